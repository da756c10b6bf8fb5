import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { OriginRejectedError } from './packages.exception';

/**
 * Passes the origin's refusal of an upload on with the origin's status. Every other error goes to
 * the service-wide filter, which maps codes to statuses.
 */
@Catch(OriginRejectedError)
export class OriginErrorFilter implements ExceptionFilter<OriginRejectedError> {
  catch(exception: OriginRejectedError, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    for (const [name, value] of Object.entries(exception.headers)) res.setHeader(name, value);
    res.status(exception.status).json(exception.toBody());
  }
}
