import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Inject, RpcExceptionFilter } from '@nestjs/common';
import { Observable, throwError } from 'rxjs';
import { ZodTypeAny, z } from 'zod';
import { ErrorBody, ErrorCode, FleetcastError, parseOrThrow, RpcContract } from '@fleetcast/contracts';
import type { Logger } from '@fleetcast/telemetry';
import { MalformedPayload } from './nats-transport';
import { LOGGER } from './tokens';

/** HTTP status of each error code: the one place where codes meet HTTP. */
export function httpStatusOf(code: string): number {
  switch (code) {
    case ErrorCode.ContractInvalid:
    case ErrorCode.NoTargets:
      return 400;
    case ErrorCode.Unauthorized:
      return 401;
    case ErrorCode.NotFound:
    case ErrorCode.PackageNotFound:
    case ErrorCode.ProfileNotFound:
    case ErrorCode.TaskNotFound:
    case ErrorCode.ManifestNotFound:
    case ErrorCode.DeviceNotFound:
    case ErrorCode.ContentNotFound:
      return 404;
    case ErrorCode.Conflict:
    case ErrorCode.PackageNotReady:
    case ErrorCode.ContentMismatch:
      return 409;
    case ErrorCode.HashMismatch:
    case ErrorCode.SizeMismatch:
      return 422;
    case ErrorCode.ContractUnsupportedVersion:
      return 400;
    case ErrorCode.Unavailable:
      return 503;
    default:
      return 500;
  }
}

/**
 * Validates an RPC payload against its contract and runs the handler; a bad payload becomes
 * CONTRACT.INVALID naming each offending field.
 */
export async function handleRpc<Req extends ZodTypeAny, Res extends ZodTypeAny>(
  contract: RpcContract<Req, Res>,
  payload: unknown,
  fn: (request: z.infer<Req>) => Promise<z.infer<Res>> | z.infer<Res>,
): Promise<z.infer<Res>> {
  if (payload instanceof MalformedPayload) throw new FleetcastError(ErrorCode.ContractInvalid, payload.reason);
  const request = parseOrThrow(contract.request, payload, `${contract.subject} request`);
  return fn(request);
}

function toBody(exception: unknown, logger: Logger): ErrorBody {
  if (exception instanceof FleetcastError) return exception.toBody();
  logger.error({ err: exception }, 'unhandled error');
  return { code: ErrorCode.Internal, message: 'internal error' };
}

/** RPC transport: every exception leaves as `{ code, message }`. */
@Catch()
export class RpcErrorFilter implements RpcExceptionFilter<unknown> {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}
  catch(exception: unknown): Observable<never> {
    return throwError(() => toBody(exception, this.logger));
  }
}

/** HTTP transport: every exception leaves as a status and `{ code, message, details? }`. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}
  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse();
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const code = status === 404 ? ErrorCode.NotFound : status === 401 ? ErrorCode.Unauthorized : status < 500 ? ErrorCode.ContractInvalid : ErrorCode.Internal;
      const response = exception.getResponse();
      const message = typeof response === 'string' ? response : ((response as { message?: string }).message ?? exception.message);
      res.status(status).json({ code, message: Array.isArray(message) ? message.join('; ') : message });
      return;
    }
    const body = toBody(exception, this.logger);
    res.status(httpStatusOf(body.code)).json(body);
  }
}
