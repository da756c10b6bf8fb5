import { randomBytes } from 'node:crypto';
import { INestApplication } from '@nestjs/common';
import { AckPolicy, DeliverPolicy } from 'nats';
import { Client } from 'pg';
import { InventoryScanSubmitted, InventoryScanV1, Streams } from '@fleetcast/contracts';
import { encodeJson, NatsConnection } from '@fleetcast/nats';
import { createLogger } from '@fleetcast/telemetry';
import { loadTopologyConfig, TopologyConfig } from '../src/config/topology.config';
import { startTopology } from '../src/topology.bootstrap';

export interface RunningTopology {
  app: INestApplication;
  config: TopologyConfig;
  httpUrl: string;
}

/** Starts the whole service in this process, on a free port, logging errors only. */
export async function startInProcess(env: { NATS_URL: string; DATABASE_URL: string } & Record<string, string>): Promise<RunningTopology> {
  const config = loadTopologyConfig({ HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', LOG_LEVEL: 'error', ...env });
  const app = await startTopology(config, createLogger('topology', config.LOG_LEVEL));
  const address = app.getHttpServer().address() as { port: number };
  return { app, config, httpUrl: `http://127.0.0.1:${address.port}` };
}

/** A scan as an agent sends it: one interface with the given addresses (prefix 24 for IPv4, 64 for IPv6). */
export function scan(deviceId: string, scanSeq: number, addresses: string[], gateway: string | null = null): InventoryScanV1 {
  return {
    deviceId,
    scanSeq,
    scannedAt: new Date().toISOString(),
    hostname: `${deviceId}.example`,
    platform: 'linux',
    osVersion: 'Debian 12',
    agentVersion: '1.0.0',
    interfaces: [
      {
        name: 'eth0',
        mac: '02:00:00:aa:bb:cc',
        gateway,
        addresses: addresses.map((address) => ({ family: address.includes(':') ? ('ipv6' as const) : ('ipv4' as const), address, prefixLength: address.includes(':') ? 64 : 24 })),
      },
    ],
    cache: { contentIds: [], freeBytes: 1_000_000 },
  };
}

/** Publishes a scan into INVENTORY_SCANS as the device's agent would. */
export async function publishScan(nc: NatsConnection, value: InventoryScanV1): Promise<void> {
  await nc.jetstream().publish(InventoryScanSubmitted.subject(value.deviceId), encodeJson(value));
}

/** Every message of a stream on a subject filter, from the start of the stream, decoded. */
export async function readEvents<T>(nc: NatsConnection, stream: string, subject: string): Promise<Array<{ subject: string; data: T }>> {
  const jsm = await nc.jetstreamManager();
  const name = `t${randomBytes(6).toString('hex')}`;
  await jsm.consumers.add(stream, { name, filter_subject: subject, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 10e9 });
  try {
    const consumer = await nc.jetstream().consumers.get(stream, name);
    const pending = (await consumer.info()).num_pending;
    const out: Array<{ subject: string; data: T }> = [];
    if (pending > 0) {
      const messages = await consumer.fetch({ max_messages: pending, expires: 5000 });
      for await (const m of messages) {
        out.push({ subject: m.subject, data: JSON.parse(Buffer.from(m.data).toString('utf8')) as T });
        if (out.length === pending) break;
      }
    }
    return out;
  } finally {
    await jsm.consumers.delete(stream, name);
  }
}

export const TOPOLOGY_EVENTS = Streams.topologyEvents.name;

/** Rows still waiting in the topology outbox: 0 once the relay published everything. */
export async function outboxBacklog(db: Client): Promise<number> {
  return (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM topology.outbox')).rows[0]!.n;
}

/** Runs cleanup steps last-in first-out, each even if an earlier one failed, then reports every failure. */
export class CleanupStack {
  private readonly steps: Array<() => Promise<unknown>> = [];

  push(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    const failures: unknown[] = [];
    while (this.steps.length > 0) {
      try {
        await this.steps.pop()!();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} cleanup step(s) failed`);
  }
}
