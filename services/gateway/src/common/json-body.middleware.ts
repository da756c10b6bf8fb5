import { BadRequestException, Injectable, NestMiddleware, PayloadTooLargeException, UnsupportedMediaTypeException } from '@nestjs/common';
import { json, NextFunction, Request, Response } from 'express';
import { ErrorCode, FleetcastError } from '@fleetcast/contracts';

/**
 * 1 MiB: NATS's default max_payload. A body larger than that could not be forwarded to a
 * service in one request anyway, and saying so with a 413 beats a failed RPC.
 */
export const JSON_BODY_LIMIT_BYTES = 1024 * 1024;

/** The fields body-parser sets on the errors it raises. */
interface BodyParserError extends Error {
  type?: string;
  status?: number;
}

/**
 * Parses JSON bodies for the API routes. It replaces Nest's global body parser so that one route
 * (the package upload) can be left out and keep its raw stream, and so that a bad body becomes a
 * clear 4xx in the API's error shape instead of body-parser's own answer.
 * Every body is read as JSON whatever its content type: the API speaks nothing else, and a client
 * that forgot the header gets its JSON parsed rather than silently ignored.
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  private readonly parse = json({ limit: JSON_BODY_LIMIT_BYTES, type: () => true });

  async use(req: Request, res: Response, next: NextFunction): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.parse(req, res, (error?: unknown) => (error ? reject(toApiError(error as BodyParserError)) : resolve()));
    });
    next();
  }
}

export function toApiError(error: BodyParserError): Error {
  switch (error.type) {
    case 'entity.parse.failed':
      return new FleetcastError(ErrorCode.ContractInvalid, `request body is not valid JSON: ${error.message}`, [
        { path: '(root)', message: 'not valid JSON' },
      ]);
    case 'entity.too.large':
      return new PayloadTooLargeException(`request body exceeds ${JSON_BODY_LIMIT_BYTES} bytes`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new UnsupportedMediaTypeException(error.message);
    case 'request.aborted':
    case 'request.size.invalid':
      return new BadRequestException(error.message);
    default:
      return error;
  }
}
