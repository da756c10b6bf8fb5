import { ServerResponse } from 'node:http';
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ErrorBody, ErrorCode, FleetcastError } from '@fleetcast/contracts';
import { sendJson } from './send-json';

/** HTTP status of each error code: the one place the origin maps codes to HTTP. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  [ErrorCode.ContractInvalid]: 400,
  [ErrorCode.ContractUnsupportedVersion]: 400,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.ContentNotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.HashMismatch]: 422,
  [ErrorCode.SizeMismatch]: 422,
  [ErrorCode.Unavailable]: 503,
  [ErrorCode.Internal]: 500,
};

export function httpStatusOf(code: string): number {
  return STATUS_BY_CODE[code] ?? 500;
}

/** The code of an error Nest raised itself (unknown route, and the like), from its status. */
export function codeOfHttpStatus(status: number): string {
  switch (status) {
    case 401:
      return ErrorCode.Unauthorized;
    case 404:
      return ErrorCode.NotFound;
    case 409:
      return ErrorCode.Conflict;
    case 503:
      return ErrorCode.Unavailable;
    default:
      return status >= 500 ? ErrorCode.Internal : ErrorCode.ContractInvalid;
  }
}

/** Turns every error into `{ code, message }` with the status its code maps to. */
@Catch()
export class FleetcastErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(FleetcastErrorFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<ServerResponse>();
    if (res.headersSent || res.destroyed) {
      // A body is already on its way (or the client is gone): a status can no longer be sent, and
      // cutting the connection is the only way to tell the client the response is incomplete.
      this.logger.warn({ msg: 'request failed after the response began', reason: (exception as Error)?.message });
      res.destroy();
      return;
    }
    let status: number;
    let body: ErrorBody;
    if (exception instanceof FleetcastError) {
      status = httpStatusOf(exception.code);
      body = exception.toBody();
    } else if (exception instanceof HttpException) {
      status = exception.getStatus();
      body = { code: codeOfHttpStatus(status), message: exception.message };
    } else {
      status = 500;
      body = { code: ErrorCode.Internal, message: 'internal error' };
    }
    // A 503 is a state (the store is full or read-only), logged as such; other 5xx are bugs, with stacks.
    if (status === 503) this.logger.warn({ msg: 'request refused', code: body.code, reason: body.message });
    else if (status >= 500) this.logger.error({ msg: 'request failed', code: body.code, reason: (exception as Error)?.message }, (exception as Error)?.stack);
    sendJson(res, status, body);
  }
}
