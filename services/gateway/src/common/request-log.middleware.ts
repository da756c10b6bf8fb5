import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { requestContextOf } from './request-context';

/**
 * Status logged for a request whose connection closed before a response was sent: nginx's 499
 * ("client closed request"), the convention log readers already know.
 */
export const CLIENT_CLOSED_REQUEST = 499;

/** One structured line per request: method, path, status, duration. Query strings stay out of the log. */
@Injectable()
export class RequestLogMiddleware implements NestMiddleware {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const started = process.hrtime.bigint();
    let logged = false;
    const log = () => {
      if (logged) return;
      logged = true;
      const ms = Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100;
      const status = res.writableFinished ? res.statusCode : CLIENT_CLOSED_REQUEST;
      const path = (req.originalUrl ?? req.url).split('?')[0];
      // The request ID finds the request's audit record (and the record its log line).
      const requestId = requestContextOf(req)?.requestId;
      this.logger.info({ method: req.method, path, status, ms, ...(requestId ? { requestId } : {}) }, `${req.method} ${path} ${status} ${ms} ms`);
    };
    res.once('finish', log);
    res.once('close', log);
    next();
  }
}
