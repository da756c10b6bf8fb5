import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Inject, RpcExceptionFilter } from '@nestjs/common';
import { Observable, throwError } from 'rxjs';
import { ZodTypeAny, z } from 'zod';
import { ErrorBody, ErrorCode, FleetcastError, idSchema, parseOrThrow, parseSubject, RpcContract } from '@fleetcast/contracts';
import type { Logger } from '@fleetcast/telemetry';
import { MalformedPayload } from './nats-transport';
import { LOGGER } from './tokens';

/**
 * HTTP status of each error code: the one place where codes meet HTTP. Typed over every ErrorCode,
 * so that a new code does not compile until it is given a status here.
 */
const HTTP_STATUS_BY_CODE = {
  [ErrorCode.ContractInvalid]: 400,
  [ErrorCode.ContractUnsupportedVersion]: 400,
  [ErrorCode.ContractUnknownSubject]: 400,
  [ErrorCode.DeviceMismatch]: 400,
  [ErrorCode.NoTargets]: 400,
  [ErrorCode.Unauthorized]: 401,
  // Authenticated, but the token's scope does not reach the route (RFC 9110 15.5.4).
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.DownloadUnauthorized]: 401,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.PackageNotFound]: 404,
  [ErrorCode.ProfileNotFound]: 404,
  [ErrorCode.TaskNotFound]: 404,
  [ErrorCode.ManifestNotFound]: 404,
  [ErrorCode.SigningKeyNotFound]: 404,
  [ErrorCode.DeviceNotFound]: 404,
  [ErrorCode.ContentNotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.PackageNotReady]: 409,
  [ErrorCode.ContentMismatch]: 409,
  [ErrorCode.PackageInUse]: 409,
  [ErrorCode.NotATarget]: 403,
  [ErrorCode.NotConfidential]: 409,
  [ErrorCode.UploadOffsetMismatch]: 409,
  [ErrorCode.UploadBusy]: 409,
  [ErrorCode.UploadNotFound]: 404,
  [ErrorCode.SigningKeyNotRetiring]: 409,
  // The task's state, not the request, is in the way.
  [ErrorCode.TaskFinished]: 409,
  [ErrorCode.TaskCancelled]: 409,
  [ErrorCode.NothingToRetry]: 409,
  // The device's agent, not the request, is in the way: the state of the resource, like a package not ready.
  [ErrorCode.AgentUnsupportedVersion]: 409,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.RangeNotSatisfiable]: 416,
  [ErrorCode.HashMismatch]: 422,
  [ErrorCode.SizeMismatch]: 422,
  [ErrorCode.Internal]: 500,
  [ErrorCode.Unavailable]: 503,
  // A well-formed request whose license key cannot be accepted: 422, like content that fails its hash.
  [ErrorCode.LicenseInvalid]: 422,
  [ErrorCode.LicenseExpired]: 422,
  // No seat in the licensing state as it stands: the resource's state, not the request, is in the way.
  [ErrorCode.NoLicense]: 409,
  [ErrorCode.NoSeatAvailable]: 409,
  // The enrollment token is the credential of an enrolling device: a bad one is a 401, like an API token.
  [ErrorCode.EnrollmentTokenInvalid]: 401,
  [ErrorCode.DeviceAlreadyEnrolled]: 409,
  [ErrorCode.DeviceNotEnrolled]: 404,
  [ErrorCode.WebhookNotFound]: 404,
  [ErrorCode.WebhookDeliveryNotFound]: 404,
  [ErrorCode.WebhookUrlRefused]: 422,
  [ErrorCode.CredentialsUnavailable]: 503,
  // A well-formed request whose document cannot be accepted: 422, like a refused license key.
  [ErrorCode.TopologyInvalid]: 422,
  [ErrorCode.NoTopology]: 404,
  [ErrorCode.TopologyVersionNotFound]: 404,
  [ErrorCode.TopologyVersionConflict]: 409,
  [ErrorCode.TopologyDeviceUnknown]: 404,
} as const satisfies Record<ErrorCode, number>;

// A Map, not an index into the object: a code read off the wire ("constructor", "__proto__") must
// not find a property the object inherited.
const statusByCode: ReadonlyMap<string, number> = new Map(Object.entries(HTTP_STATUS_BY_CODE));

/** HTTP status of an error code; a code this process does not know is a 500. */
export function httpStatusOf(code: string): number {
  return statusByCode.get(code) ?? 500;
}

/**
 * The code of an error Nest raised itself as an HttpException (an unknown route, a body parser's
 * refusal), from its status: the inverse of {@link httpStatusOf} for the statuses that have a code
 * of their own, CONTRACT.INVALID for any other client error and COMMON.INTERNAL for the rest.
 */
export function codeOfHttpStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return ErrorCode.Unauthorized;
    case 403:
      return ErrorCode.Forbidden;
    case 404:
      return ErrorCode.NotFound;
    case 409:
      return ErrorCode.Conflict;
    case 413:
      return ErrorCode.PayloadTooLarge;
    case 416:
      return ErrorCode.RangeNotSatisfiable;
    case 503:
      return ErrorCode.Unavailable;
    default:
      // Below 400 is no error at all: an exception thrown with one is a bug, hence internal.
      return status >= 400 && status < 500 ? ErrorCode.ContractInvalid : ErrorCode.Internal;
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

/**
 * Like `handleRpc`, for a device-scoped contract: the device is the subject's last token, which the
 * device's NATS permissions fix, so the handler learns who asks from the subject, never the payload.
 */
export async function handleDeviceRpc<Req extends ZodTypeAny, Res extends ZodTypeAny>(
  contract: RpcContract<Req, Res>,
  subject: string,
  payload: unknown,
  fn: (request: z.infer<Req>, deviceId: string) => Promise<z.infer<Res>> | z.infer<Res>,
): Promise<z.infer<Res>> {
  const { deviceId } = parseSubject(subject);
  if (deviceId === undefined || !idSchema.safeParse(deviceId).success) {
    throw new FleetcastError(ErrorCode.ContractInvalid, `${subject} names no device`);
  }
  return handleRpc(contract, payload, (request) => fn(request, deviceId));
}

/** The wire body of any exception; anything but a FleetcastError hides its message behind COMMON.INTERNAL. */
function toBody(exception: unknown): ErrorBody {
  if (exception instanceof FleetcastError) return exception.toBody();
  return { code: ErrorCode.Internal, message: 'internal error' };
}

/** RPC transport: every exception leaves as `{ code, message }`. */
@Catch()
export class RpcErrorFilter implements RpcExceptionFilter<unknown> {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}
  catch(exception: unknown): Observable<never> {
    if (!(exception instanceof FleetcastError)) this.logger.error({ err: exception }, 'unhandled error');
    return throwError(() => toBody(exception));
  }
}

/** Status and body of an exception on HTTP: a code maps to its status, an HttpException's status to a code. */
function toHttpError(exception: unknown): { status: number; body: ErrorBody } {
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    // Nest's own exceptions carry `{ message }`, where a validation pipe puts one message per field.
    const message = typeof response === 'string' ? response : ((response as { message?: unknown }).message ?? exception.message);
    return { status, body: { code: codeOfHttpStatus(status), message: Array.isArray(message) ? message.join('; ') : String(message) } };
  }
  const body = toBody(exception);
  return { status: httpStatusOf(body.code), body };
}

/** The part of a Node response the filter needs; Express's response is one. */
interface HttpResponse {
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  destroy(): void;
  status(code: number): { json(body: unknown): unknown };
}

/** HTTP transport: every exception leaves as a status and `{ code, message, details? }`. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<HttpResponse>();
    if (res.headersSent || res.destroyed) {
      // A body is already on its way (a download failing mid-stream) or the client is gone: a status
      // can no longer be sent, and appending an error body would corrupt what was sent. Cutting the
      // connection is the only way left to tell the client the response is incomplete.
      this.logger.warn({ reason: (exception as Error | undefined)?.message }, 'request failed after the response began');
      res.destroy();
      return;
    }
    const { status, body } = toHttpError(exception);
    // A 503 is a state (a dependency down, a store full), not a bug: one line, no stack. Other 5xx
    // are bugs or failures worth a stack, which pino's error serializer writes out.
    if (status === 503) this.logger.warn({ code: body.code, reason: body.message }, 'request refused');
    else if (status >= 500) this.logger.error({ err: exception, code: body.code, status }, 'request failed');
    res.status(status).json(body);
  }
}
