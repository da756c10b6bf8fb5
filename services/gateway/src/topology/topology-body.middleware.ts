import { Injectable, NestMiddleware } from '@nestjs/common';
import { NextFunction, Request, Response, text } from 'express';
import { JSON_BODY_LIMIT_BYTES, toApiError } from '../common/json-body.middleware';
import { parseTopologyBody } from './topology-body';

/**
 * Reads the body of a topology upload as text and parses it as JSON or YAML by its Content-Type
 * (the gateway's JSON middleware leaves this route alone). Same limit as a JSON body: the document
 * goes to the topology service in one NATS request.
 */
@Injectable()
export class TopologyBodyMiddleware implements NestMiddleware {
  private readonly read = text({ limit: JSON_BODY_LIMIT_BYTES, type: () => true });

  async use(req: Request, res: Response, next: NextFunction): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.read(req, res, (error?: unknown) => (error ? reject(toApiError(error as Parameters<typeof toApiError>[0])) : resolve()));
    });
    const body: unknown = req.body;
    req.body = parseTopologyBody(typeof body === 'string' ? body : '', req.headers['content-type']);
    next();
  }
}

