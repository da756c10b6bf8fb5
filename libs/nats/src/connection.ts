import { readFileSync } from 'node:fs';
import { Authenticator, connect, credsAuthenticator, jwtAuthenticator, NatsConnection, headers as natsHeaders, MsgHdrs } from 'nats';
import type { Logger } from '@fleetcast/telemetry';
import { injectTraceContext } from '@fleetcast/telemetry';

export type { NatsConnection, MsgHdrs };

export interface NatsConnectOptions {
  servers: string | string[];
  name: string;
  logger?: Logger;
  /** Milliseconds between reconnect attempts. */
  reconnectTimeWaitMs?: number;
  /** How the client proves who it is (see `natsAuthenticator`); absent: no credentials (an open server). */
  authenticator?: Authenticator | Authenticator[];
  /** Where replies to this client's requests go; a device's permissions allow only its own prefix. */
  inboxPrefix?: string;
  /** TLS to the server, verified against this CA certificate file (PEM); absent: the URL's scheme decides. */
  tlsCaFile?: string;
}

/**
 * The authenticator for a NATS user: a creds file (a service; read again at every connect, so a
 * replaced file takes effect at the next reconnect), or a user JWT and the seed it was issued for
 * (a device, whose seed never leaves it). Absent both: no authenticator.
 */
export function natsAuthenticator(auth: { credsFile?: string; jwt?: string; seed?: string }): Authenticator | undefined {
  if (auth.credsFile) {
    const path = auth.credsFile;
    return credsAuthenticator(() => readFileSync(path));
  }
  if (auth.jwt && auth.seed) return jwtAuthenticator(auth.jwt, new TextEncoder().encode(auth.seed));
  return undefined;
}

/**
 * The servers of a NATS_URL setting as a list: one URL, or a comma-separated list of a cluster's
 * nodes (`nats://n1:4222,nats://n2:4222`), blanks ignored. The client connects to one of them
 * and moves to another when that one goes away.
 */
export function natsServers(servers: string | string[]): string[] {
  const list = (Array.isArray(servers) ? servers : [servers]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
  if (list.length === 0) throw new Error('no NATS server given (NATS_URL is empty)');
  return list;
}

/**
 * Connects with unlimited reconnects: a service or agent outlives any NATS outage and resumes
 * (core subscriptions are re-established by the client; JetStream consumers by their loops).
 */
export async function connectNats(options: NatsConnectOptions): Promise<NatsConnection> {
  const nc = await connect({
    servers: natsServers(options.servers),
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectTimeWaitMs ?? 1000,
    waitOnFirstConnect: true,
    pingInterval: 10_000,
    ...(options.authenticator ? { authenticator: options.authenticator } : {}),
    ...(options.inboxPrefix ? { inboxPrefix: options.inboxPrefix } : {}),
    ...(options.tlsCaFile ? { tls: { caFile: options.tlsCaFile } } : {}),
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
