import { connect, NatsConnection, headers as natsHeaders, MsgHdrs } from 'nats';
import type { Logger } from '@fleetcast/telemetry';
import { injectTraceContext } from '@fleetcast/telemetry';

export type { NatsConnection, MsgHdrs };

export interface NatsConnectOptions {
  servers: string | string[];
  name: string;
  logger?: Logger;
  /** Milliseconds between reconnect attempts. */
  reconnectTimeWaitMs?: number;
}

/**
 * Connects with unlimited reconnects: a service or agent outlives any NATS outage and resumes
 * (core subscriptions are re-established by the client; JetStream consumers by their loops).
 */
export async function connectNats(options: NatsConnectOptions): Promise<NatsConnection> {
  const nc = await connect({
    servers: options.servers,
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectTimeWaitMs ?? 1000,
    waitOnFirstConnect: true,
    pingInterval: 10_000,
  });
  const logger = options.logger;
  if (logger) {
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'pingTimer') continue;
        logger.info({ nats: status.type, data: typeof status.data === 'string' ? status.data : undefined }, `nats ${status.type}`);
      }
    })();
  }
  return nc;
}

/** Fresh message headers carrying the active trace context. */
export function tracedHeaders(): MsgHdrs {
  const h = natsHeaders();
  injectTraceContext(h);
  return h;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Decodes JSON bytes; returns a typed failure instead of throwing (bad input never crashes a loop). */
export function decodeJson(data: Uint8Array): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(decoder.decode(data)) };
  } catch (error) {
    return { ok: false, error: `payload is not valid JSON (${(error as Error).message})` };
  }
}
