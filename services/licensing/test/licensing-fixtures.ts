import { createPrivateKey, randomBytes, randomUUID } from 'node:crypto';
import { INestApplication } from '@nestjs/common';
import { AckPolicy, DeliverPolicy } from 'nats';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { Streams } from '@fleetcast/contracts';
import { NatsConnection } from '@fleetcast/nats';
import { createLogger } from '@fleetcast/telemetry';
import { LicensingConfig, loadLicensingConfig } from '../src/config/licensing.config';
import { generateLicenseKeyPair, LicensePayload, signLicense } from '../src/license/license-key';
import { LicenseService } from '../src/license/license.service';
import { SeatsService } from '../src/seats/seats.service';
import { startLicensing } from '../src/licensing.bootstrap';

const DAY_MS = 86_400_000;

/** A license issuer for tests: the key pair the vendor would hold, and keys signed with it. */
export class TestIssuer {
  private readonly pair = generateLicenseKeyPair();

  /** What LICENSE_PUBLIC_KEY takes. */
  get publicKey(): string {
    return this.pair.publicKeyBase64;
  }

  payload(overrides: Partial<LicensePayload> & { expiresInMs?: number } = {}): LicensePayload {
    const { expiresInMs, ...fields } = overrides;
    const issuedAt = new Date(Date.now() - 60_000);
    return {
      licenseId: `lic-${randomUUID()}`,
      customer: 'Example Corp',
      seats: 3,
      issuedAt: issuedAt.toISOString(),
      expiresAt: new Date(Date.now() + (expiresInMs ?? 365 * DAY_MS)).toISOString(),
      features: ['multicast'],
      ...fields,
    };
  }

  issue(overrides: Partial<LicensePayload> & { expiresInMs?: number } = {}): { key: string; license: LicensePayload } {
    const license = this.payload(overrides);
    return { key: signLicense(license, createPrivateKey(this.pair.privateKeyPem)), license };
  }
}

export interface RunningLicensing {
  app: INestApplication;
  config: LicensingConfig;
  httpUrl: string;
  seats: SeatsService;
  license: LicenseService;
  dataSource: DataSource;
}

/** Starts the whole service in this process, on a free port, logging errors only. */
export async function startInProcess(env: { NATS_URL: string; DATABASE_URL: string; LICENSE_PUBLIC_KEY: string } & Record<string, string>): Promise<RunningLicensing> {
  const config = loadLicensingConfig({ HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', LOG_LEVEL: 'error', ...env });
  const app = await startLicensing(config, createLogger('licensing', config.LOG_LEVEL));
  const address = app.getHttpServer().address() as { port: number };
  return { app, config, httpUrl: `http://127.0.0.1:${address.port}`, seats: app.get(SeatsService), license: app.get(LicenseService), dataSource: app.get(DataSource) };
}

/** Every message of LICENSING_EVENTS on a subject, from the start of the stream, decoded. */
export async function readEvents<T>(nc: NatsConnection, subject: string): Promise<T[]> {
  const jsm = await nc.jetstreamManager();
  const name = `t${randomBytes(6).toString('hex')}`;
  await jsm.consumers.add(Streams.licensingEvents.name, { name, filter_subject: subject, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 10e9 });
  try {
    const consumer = await nc.jetstream().consumers.get(Streams.licensingEvents.name, name);
    const pending = (await consumer.info()).num_pending;
    const out: T[] = [];
    if (pending > 0) {
      const messages = await consumer.fetch({ max_messages: pending, expires: 5000 });
      for await (const m of messages) {
        out.push(JSON.parse(Buffer.from(m.data).toString('utf8')) as T);
        if (out.length === pending) break;
      }
    }
    return out;
  } finally {
    await jsm.consumers.delete(Streams.licensingEvents.name, name);
  }
}

/** Rows still waiting in the licensing outbox: 0 once the relay published everything. */
export async function outboxBacklog(db: Client): Promise<number> {
  return (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM licensing.outbox')).rows[0]!.n;
}

/** Sum of a metric's samples whose labels include `labels`, from a Prometheus text page. */
export async function metricSum(httpUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const response = await fetch(`${httpUrl}/metrics`);
  if (!response.ok) throw new Error(`GET ${httpUrl}/metrics answered ${response.status}`);
  let sum = 0;
  for (const line of (await response.text()).split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) sum += Number(match[3]);
  }
  return sum;
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
