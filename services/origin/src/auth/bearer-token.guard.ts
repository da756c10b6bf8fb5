import { createHash, timingSafeEqual } from 'node:crypto';
import { IncomingMessage } from 'node:http';
import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { ErrorCode, FleetcastError } from '@fleetcast/contracts';
import { ORIGIN_CONFIG, OriginConfig } from '../config/origin.config';

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 9110 11.1), or null. */
export function bearerTokenOf(header: string | undefined): string | null {
  const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header ?? '');
  return match ? match[1]! : null;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * Guards writes (uploads, resets) when API tokens are configured. Downloads stay open: content is
 * addressed by its hash, and agents verify every block against the signed manifest anyway.
 */
@Injectable()
export class BearerTokenGuard implements CanActivate {
  // Compared as digests of equal length, so the comparison time says nothing about a token's length.
  private readonly digests: Buffer[];

  constructor(@Inject(ORIGIN_CONFIG) config: OriginConfig) {
    this.digests = config.apiTokens.map(digest);
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.digests.length === 0) return true;
    const token = bearerTokenOf(context.switchToHttp().getRequest<IncomingMessage>().headers.authorization);
    if (token !== null) {
      const given = digest(token);
      if (this.digests.some((known) => timingSafeEqual(known, given))) return true;
    }
    throw new FleetcastError(ErrorCode.Unauthorized, 'this route needs an "Authorization: Bearer <token>" header with a valid API token');
  }
}
