import { NatsConnection, ErrorCode as NatsErrorCode, NatsError } from 'nats';
import { z } from 'zod';
import { DeviceRpcContract, ErrorCode, FleetcastError, RpcContract, rpcReplySchema } from '@fleetcast/contracts';
import { SpanKind, withSpan } from '@fleetcast/telemetry';
import { decodeJson, encodeJson, tracedHeaders } from './connection';

/** Default reply deadline: queries are small; a slow reply means an overloaded or absent service. */
export const DEFAULT_RPC_TIMEOUT_MS = 10_000;

/**
 * Typed request/reply over core NATS. The request is validated before it leaves, the reply is
 * validated when it arrives, and an error reply becomes a FleetcastError with the remote code.
 */
export class RpcClient {
  constructor(
    private readonly nc: NatsConnection,
    private readonly defaultTimeoutMs = DEFAULT_RPC_TIMEOUT_MS,
  ) {}

  call<Req extends z.ZodTypeAny, Res extends z.ZodTypeAny>(
    contract: RpcContract<Req, Res>,
    request: z.input<Req>,
    options: { timeoutMs?: number } = {},
  ): Promise<z.infer<Res>> {
    return this.request(contract.subject, contract, request, options);
  }

  /** Calls a device-scoped contract as the given device (its credentials allow only its own ID). */
  callAsDevice<Req extends z.ZodTypeAny, Res extends z.ZodTypeAny>(
    contract: DeviceRpcContract<Req, Res>,
    deviceId: string,
    request: z.input<Req>,
    options: { timeoutMs?: number } = {},
  ): Promise<z.infer<Res>> {
    return this.request(contract.subjectFor(deviceId), contract, request, options);
  }

  private async request<Req extends z.ZodTypeAny, Res extends z.ZodTypeAny>(
    subject: string,
    contract: RpcContract<Req, Res>,
    request: z.input<Req>,
    options: { timeoutMs?: number },
  ): Promise<z.infer<Res>> {
    const parsed = contract.request.safeParse(request);
    if (!parsed.success) {
      throw new FleetcastError(ErrorCode.ContractInvalid, `invalid request for ${contract.subject}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    }
    let reply;
    try {
      // A client span: the caller's side of the round trip, and the parent the handler's server span continues.
      reply = await withSpan(contract.subject, { kind: SpanKind.CLIENT, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject } }, () =>
        this.nc.request(subject, encodeJson(parsed.data), {
          timeout: options.timeoutMs ?? this.defaultTimeoutMs,
          headers: tracedHeaders(),
        }),
      );
    } catch (error) {
      const code = (error as NatsError).code;
      if (code === NatsErrorCode.NoResponders) {
        throw new FleetcastError(ErrorCode.Unavailable, `no service answers ${contract.subject}`);
      }
      if (code === NatsErrorCode.Timeout) {
        throw new FleetcastError(ErrorCode.Unavailable, `${contract.subject} did not answer in time`);
      }
      throw new FleetcastError(ErrorCode.Unavailable, `${contract.subject}: ${(error as Error).message}`);
    }
    const decoded = decodeJson(reply.data);
    const envelope = decoded.ok ? rpcReplySchema.safeParse(decoded.value) : undefined;
    if (!envelope?.success) {
      throw new FleetcastError(ErrorCode.Internal, `malformed reply from ${contract.subject}`);
    }
    if (!envelope.data.ok) {
      const { code, message, details } = envelope.data.error;
      throw new FleetcastError(code, message, details);
    }
    const data = contract.response.safeParse(envelope.data.data);
    if (!data.success) {
      throw new FleetcastError(ErrorCode.Internal, `reply from ${contract.subject} does not match its contract: ${data.error.message}`);
    }
    return data.data;
  }
}
