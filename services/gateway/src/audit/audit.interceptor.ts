import { CallHandler, ExecutionContext, HttpException, Injectable, NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import { Observable, tap } from 'rxjs';
import { ErrorCode, FleetcastError } from '@fleetcast/contracts';
import { codeOfHttpStatus } from '@fleetcast/service-kit';
import { requestContextOf } from '../common/request-context';
import { resourceIdOf } from './audit-record';

/** The code an error will be answered with, as the HTTP error filter maps it. */
export function errorCodeOf(error: unknown): string {
  if (error instanceof FleetcastError) return error.code;
  if (error instanceof HttpException) return codeOfHttpStatus(error.getStatus());
  return ErrorCode.Internal;
}

/**
 * Notes, for the audit record, what a request that got past the guard created or changed (the ID in
 * its answer) or the code it failed with. Only interceptors see a handler's return value and its
 * error before they become a response.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const requestContext = requestContextOf(context.switchToHttp().getRequest<Request>());
    if (!requestContext) return next.handle();
    return next.handle().pipe(
      tap({
        next: (answer) => {
          requestContext.resourceId = resourceIdOf(answer);
        },
        error: (error: unknown) => {
          requestContext.errorCode = errorCodeOf(error);
        },
      }),
    );
  }
}
