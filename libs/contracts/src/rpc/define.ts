import { z } from 'zod';
import { errorBodySchema } from '../errors';
import { versioned } from '../subjects';

/**
 * A request/reply contract on core NATS. The reply is always an envelope:
 * `{ ok: true, data }` or `{ ok: false, error: { code, message, details? } }`.
 */
export interface RpcContract<Req extends z.ZodTypeAny, Res extends z.ZodTypeAny> {
  subject: string;
  request: Req;
  response: Res;
}

export function defineRpc<Req extends z.ZodTypeAny, Res extends z.ZodTypeAny>(
  subject: string,
  request: Req,
  response: Res,
): RpcContract<Req, Res> {
  return { subject, request, response };
}

/**
 * A request/reply contract scoped to one device: the device ID is the subject's last token, so that
 * NATS permissions let a device call it only for itself. `subject` is the pattern a service serves
 * (`<base>.v<N>.*`); `subjectFor(deviceId)` is where a device sends. The service takes the device from
 * the subject (authenticated by the permissions), never from the payload.
 */
export interface DeviceRpcContract<Req extends z.ZodTypeAny, Res extends z.ZodTypeAny> extends RpcContract<Req, Res> {
  subjectFor(deviceId: string): string;
}

export function defineDeviceRpc<Req extends z.ZodTypeAny, Res extends z.ZodTypeAny>(
  base: string,
  version: number,
  request: Req,
  response: Res,
): DeviceRpcContract<Req, Res> {
  return { subject: `${base}.v${version}.*`, subjectFor: (deviceId) => versioned(base, version, deviceId), request, response };
}

export type RpcRequest<C> = C extends RpcContract<infer Req, z.ZodTypeAny> ? z.input<Req> : never;
export type RpcResponse<C> = C extends RpcContract<z.ZodTypeAny, infer Res> ? z.infer<Res> : never;

export const rpcReplySchema = z.union([
  z.object({ ok: z.literal(true), data: z.unknown() }),
  z.object({ ok: z.literal(false), error: errorBodySchema }),
]);
export type RpcReply = z.infer<typeof rpcReplySchema>;

export const paginationSchema = z.object({
  limit: z.number().int().min(1).max(1000).default(100),
  offset: z.number().int().min(0).default(0),
});

/**
 * Answers a request whose subject no handler serves: a known subject of another version gets
 * CONTRACT.UNSUPPORTED_VERSION, anything else CONTRACT.UNKNOWN_SUBJECT. Pure: the caller owns the socket.
 */
export function unservedRequestError(subject: string, served: readonly string[]): { code: string; message: string } {
  const base = subject.split('.').slice(0, 4).join('.');
  const versions = served.filter((s) => s.split('.').slice(0, 4).join('.') === base).map((s) => s.split('.')[4]);
  return versions.length > 0
    ? { code: 'CONTRACT.UNSUPPORTED_VERSION', message: `${subject} is not served; this service speaks ${versions.join(', ')} of ${base}` }
    : { code: 'CONTRACT.UNKNOWN_SUBJECT', message: `no handler for ${subject}` };
}
