import { INestApplication } from '@nestjs/common';
import { DeadLettered, DeadLetteredV1, InventoryScanSubmitted, InventoryScanV1, Streams } from '@fleetcast/contracts';
import { encodeJson, NatsConnection } from '@fleetcast/nats';
import { createLogger } from '@fleetcast/telemetry';
import { InventoryConfig, loadInventoryConfig } from '../src/config/inventory.config';
import { startInventory } from '../src/inventory.bootstrap';

/** A valid scan; `addresses` are "address/prefix" strings on one interface. */
export function scanOf(
  deviceId: string,
  scanSeq: number,
  options: { addresses?: string[]; hostname?: string; platform?: InventoryScanV1['platform']; agentVersion?: string } = {},
): InventoryScanV1 {
  const addresses = (options.addresses ?? ['10.99.0.10/24']).map((text) => {
    const [address, prefix] = text.split('/') as [string, string];
    return { family: address.includes(':') ? ('ipv6' as const) : ('ipv4' as const), address, prefixLength: Number(prefix) };
  });
  return {
    deviceId,
    scanSeq,
    scannedAt: new Date().toISOString(),
    hostname: options.hostname ?? `host-${deviceId}`,
    platform: options.platform ?? 'linux',
    osVersion: 'Debian 12',
    agentVersion: options.agentVersion ?? '0.1.0',
    interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', gateway: null, addresses }],
    cache: { contentIds: ['ab'.repeat(32)], freeBytes: 10_000_000_000 },
  };
}

/** Publishes to JetStream and awaits the stream's acknowledgement, as an agent does. */
export async function publishScan(nc: NatsConnection, scan: InventoryScanV1): Promise<void> {
  await nc.jetstream().publish(InventoryScanSubmitted.subject(scan.deviceId), encodeJson(scan));
}

/** Publishes many scans with a bounded number of acknowledgements outstanding. */
export async function publishScans(nc: NatsConnection, scans: InventoryScanV1[], inFlight = 500): Promise<void> {
  const js = nc.jetstream();
  for (let i = 0; i < scans.length; i += inFlight) {
    await Promise.all(scans.slice(i, i + inFlight).map((scan) => js.publish(InventoryScanSubmitted.subject(scan.deviceId), encodeJson(scan))));
  }
}

/** Every record in the dead-letter stream (the stream is small in a test). */
export async function readDeadLetters(nc: NatsConnection): Promise<DeadLetteredV1[]> {
  const jsm = await nc.jetstreamManager();
  const { state } = await jsm.streams.info(Streams.deadLetters.name);
  const records: DeadLetteredV1[] = [];
  if (state.messages === 0) return records;
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const stored = await jsm.streams.getMessage(Streams.deadLetters.name, { seq });
    records.push(DeadLettered.schema.parse(JSON.parse(Buffer.from(stored.data).toString('utf8'))));
  }
  return records;
}

/** Starts the whole service in this process, on free ports, logging errors only. */
export async function startInProcess(
  env: { NATS_URL: string; DATABASE_URL: string } & Record<string, string>,
): Promise<{ app: INestApplication; config: InventoryConfig; httpUrl: string }> {
  const config = loadInventoryConfig({ HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', LOG_LEVEL: 'error', ...env });
  const app = await startInventory(config, createLogger('inventory', config.LOG_LEVEL));
  const address = app.getHttpServer().address() as { port: number };
  return { app, config, httpUrl: `http://127.0.0.1:${address.port}` };
}

/** Samples of one metric from a Prometheus text page. */
export function metricSamples(page: string, name: string): Array<{ labels: Record<string, string>; value: number }> {
  const samples: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of page.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of a metric's samples whose labels include `labels`. */
export async function metricSum(httpUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const response = await fetch(`${httpUrl}/metrics`);
  if (!response.ok) throw new Error(`GET ${httpUrl}/metrics answered ${response.status}`);
  return metricSamples(await response.text(), name)
    .filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
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
