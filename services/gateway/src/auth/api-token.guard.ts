import { CanActivate, ExecutionContext, Inject, Injectable, Type } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { ErrorCode, FleetcastError } from '@fleetcast/contracts';
import { HealthController, MetricsController } from '@fleetcast/service-kit';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway.config';
import { EnrollHttpController } from '../enrollment/enrollment.http.controller';

/**
 * Controllers that answer without a token: probes and scrapers (liveness, readiness, metrics) carry
 * none, and an enrolling device carries an enrollment token instead (checked by the licensing service). Listed by class rather than path so that no spelling of a URL can slip past the guard.
 * The API document (/docs, /docs-json) is served outside Nest's router and never reaches a guard.
 */
const OPEN_CONTROLLERS: ReadonlySet<Type<unknown>> = new Set<Type<unknown>>([HealthController, MetricsController, EnrollHttpController]);

/** Reads `Authorization: Bearer <token>`; anything else yields no token. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return match?.[1];
}

/** SHA-256 of a token: a fixed-length value that `timingSafeEqual` can compare whatever the token's length. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Whether `presented` is one of the accepted tokens (given as digests), in time that depends on
 * neither the presented token nor which accepted token it matches: every digest is compared, in
 * constant time, without an early exit, so response timing reveals nothing about the tokens.
 */
export function tokenMatches(presented: string, acceptedDigests: readonly Buffer[]): boolean {
  const digest = tokenDigest(presented);
  let matched = false;
  for (const accepted of acceptedDigests) {
    // Evaluated first on purpose: `matched || ...` would skip the remaining comparisons.
    matched = timingSafeEqual(digest, accepted) || matched;
  }
  return matched;
}

/** Every API route needs a configured bearer token, unless authentication was disabled by configuration. */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  private readonly acceptedDigests: Buffer[];

  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {
    this.acceptedDigests = config.apiTokens.map(tokenDigest);
  }

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http' || this.config.authDisabled) return true;
    if (OPEN_CONTROLLERS.has(context.getClass())) return true;
    const http = context.switchToHttp();
    const token = bearerToken(http.getRequest<Request>().headers.authorization);
    if (token !== undefined && tokenMatches(token, this.acceptedDigests)) return true;
    const res = http.getResponse<Response>();
    // RFC 6750: a 401 names the scheme the client should use.
    res.setHeader('WWW-Authenticate', 'Bearer realm="fleetcast"');
    // An upload refused here has its body still unread; closing beats reading gigabytes to discard them.
    if (!http.getRequest<Request>().complete) res.setHeader('Connection', 'close');
    throw new FleetcastError(
      ErrorCode.Unauthorized,
      token === undefined ? 'missing API token: send Authorization: Bearer <token>' : 'invalid API token',
    );
  }
}
