import { ConsumerDeserializer, IncomingRequest, IncomingEvent, Serializer, OutgoingResponse } from '@nestjs/microservices';
import { decodeJson, encodeJson } from '@fleetcast/nats';
import { ErrorBody, ErrorCode, RpcReply } from '@fleetcast/contracts';

/** Marks a request body that was not JSON, so the handler can answer CONTRACT.INVALID. */
export class MalformedPayload {
  constructor(readonly reason: string) {}
}

/**
 * Lets Nest's NATS transport speak Fleetcast's plain contract instead of Nest's own envelope:
 * a request is the bare JSON body on the contract's subject; the reply inbox identifies it.
 */
export class ContractDeserializer implements ConsumerDeserializer {
  deserialize(value: Uint8Array, options?: { channel?: string; replyTo?: string }): IncomingRequest | IncomingEvent {
    const decoded = decodeJson(value);
    const data = decoded.ok ? decoded.value : new MalformedPayload(decoded.error);
    const pattern = options?.channel ?? '';
    return options?.replyTo ? { pattern, data, id: options.replyTo } : { pattern, data };
  }
}

/** Turns Nest's outgoing packet into `{ ok: true, data }` or `{ ok: false, error }`. */
export class ContractSerializer implements Serializer<OutgoingResponse, { data: Uint8Array; headers?: undefined }> {
  serialize(packet: OutgoingResponse): { data: Uint8Array } {
    let reply: RpcReply;
    if (packet.err !== undefined) {
      reply = { ok: false, error: toErrorBody(packet.err) };
    } else {
      reply = { ok: true, data: packet.response ?? null };
    }
    return { data: encodeJson(reply) };
  }
}

function toErrorBody(err: unknown): ErrorBody {
  if (err && typeof err === 'object' && 'code' in err && 'message' in err) {
    const e = err as ErrorBody;
    return e.details ? { code: String(e.code), message: String(e.message), details: e.details } : { code: String(e.code), message: String(e.message) };
  }
  if (typeof err === 'string') return { code: ErrorCode.Internal, message: err };
  return { code: ErrorCode.Internal, message: 'internal error' };
}
