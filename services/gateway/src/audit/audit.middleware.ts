import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { codeOfHttpStatus } from '@fleetcast/service-kit';
import { credentialOf, effectiveAuthorization } from '../auth/api-tokens';
import { attachRequestContext } from '../common/request-context';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway.config';
import { buildAuditEvent, isAudited } from './audit-record';
import { AuditService } from './audit.service';

/**
 * The first code every request meets: gives it an ID (`X-Request-Id`), resolves its API token once
 * (the guard decides with it; the record names it even when the request is refused before the
 * guard, by a body parser or for want of a route), and, for a method that changes state, records
 * the request in the audit log when its response is finished or its client goes away.
 */
@Injectable()
export class AuditMiddleware implements NestMiddleware {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly audit: AuditService,
  ) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const context = attachRequestContext(req, {
      requestId: randomUUID(),
      receivedAt: new Date(),
      startedNs: process.hrtime.bigint(),
      // The header, or on an event stream only, the query parameter or cookie a browser can send.
      credential: credentialOf(effectiveAuthorization(req), this.config.apiTokens),
    });
    res.setHeader('X-Request-Id', context.requestId);
    const method = req.method;
    if (isAudited(method)) {
      let recorded = false;
      const record = () => {
        if (recorded) return;
        recorded = true;
        void this.audit.record(
          buildAuditEvent({
            requestId: context.requestId,
            receivedAt: context.receivedAt,
            durationMs: Number(process.hrtime.bigint() - context.startedNs) / 1e6,
            credential: context.credential,
            method,
            url: req.originalUrl ?? req.url,
            route: context.route,
            params: context.params,
            resourceId: context.resourceId,
            status: res.statusCode,
            finished: res.writableFinished,
            errorCode: context.errorCode,
            codeOfStatus: codeOfHttpStatus,
            clientAddress: req.socket.remoteAddress,
            forwardedFor: req.headers['x-forwarded-for'],
          }),
        );
      };
      // `finish`: the whole response was handed over; `close` alone: the client went away first.
      res.once('finish', record);
      res.once('close', record);
    }
    next();
  }
}
