import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AckPolicy, connect, DeliverPolicy, JsMsg, NatsConnection } from 'nats';
import { DeviceStatusV1, Streams } from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { createTestDatabase, freePort, NatsServer, NodeProcess, spawnNodeProcess, startNatsServer, stopAll, TestDatabase, waitFor } from '@fleetcast/testing';
import { OriginStub } from '../origin-stub';

/** The tasks service's entry point, compiled. */
export const TASKS_MAIN = join(__dirname, '..', '..', 'src', 'main.js');

/** What the integration tests of the tasks service run against: real NATS (operator mode), Postgres, the service as a process. */
export interface TasksHarness {
  nats: NatsServer;
  origin: OriginStub;
  db: TestDatabase;
  /** An unrestricted client of the test's NATS server, and RPC over it. */
  nc: NatsConnection;
  rpc: RpcClient;
  service: NodeProcess;
  /** Ends the service, the servers and the database. */
  stop(): Promise<void>;
}

export interface TasksHarnessOptions {
  /** Extra environment for the service (resend policy, intervals). */
  env?: Record<string, string>;
  /** Runs against NATS before the service starts (a stream as an earlier version left it). */
  beforeStart?(nc: NatsConnection): Promise<void>;
}

/** Starts NATS, an origin stand-in, a database named after `name` and the tasks service, and waits until it is ready. */
export async function startTasksHarness(name: string, options: TasksHarnessOptions = {}): Promise<TasksHarness> {
  const nats = await startNatsServer();
  const origin = await new OriginStub().start();
  const db = await createTestDatabase(name);
  const nc = await connect(nats.adminConnectOptions());
  await options.beforeStart?.(nc);
  const { proc: service } = await startTasksService({ nats, db, origin }, name, options.env);
  return {
    nats,
    origin,
    db,
    nc,
    rpc: new RpcClient(nc),
    service,
    async stop() {
      await nc.close();
      await origin.stop();
      await stopAll();
      await db.drop();
    },
  };
}

/**
 * One tasks service process against a test's servers, ready when it resolves: several may run
 * against the same NATS and database (instances sharing the work).
 */
export async function startTasksService(
  on: Pick<TasksHarness, 'nats' | 'db' | 'origin'>,
  name: string,
  env: Record<string, string> = {},
): Promise<{ proc: NodeProcess; port: number }> {
  const port = await freePort();
  const proc = await spawnNodeProcess(TASKS_MAIN, {
    name,
    env: {
      NATS_URL: on.nats.url,
      NATS_CREDS_FILE: on.nats.trust!.credsFile('tasks'),
      DATABASE_URL: on.db.url,
      HTTP_PORT: String(port),
      ORIGIN_PUBLIC_URL: 'http://origin.test:8081',
      ORIGIN_URL: on.origin.url,
      SCHEDULER_INTERVAL_MS: '100',
      LOG_LEVEL: 'warn',
      ...env,
    },
  });
  await waitFor(() => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false), { timeoutMs: 30_000, description: `${proc.describe()} ready` });
  return { proc, port };
}

/** A version 1 status report with nothing to say beyond its state: tests spread what they need over it. */
export function statusReport(taskId: string, deviceId: string, seq: number, state: DeviceStatusV1['state'], over: Partial<DeviceStatusV1> = {}): DeviceStatusV1 {
  return {
    taskId,
    deviceId,
    seq,
    state,
    reportedAt: new Date().toISOString(),
    bytes: { origin: 0, parent: 0, multicast: 0, peer: 0 },
    reason: null,
    hashVerified: state === 'succeeded',
    exitCode: null,
    outputTail: null,
    ...over,
  };
}

/** Every message of TASK_ASSIGNMENTS under a subject filter, oldest first (a consumer made and removed for the read). */
export async function assignmentMessages(nc: NatsConnection, filter: string): Promise<JsMsg[]> {
  const stream = Streams.taskAssignments.name;
  const jsm = await nc.jetstreamManager();
  const name = `t${randomBytes(6).toString('hex')}`;
  await jsm.consumers.add(stream, { name, filter_subject: filter, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 10e9 });
  const consumer = await nc.jetstream().consumers.get(stream, name);
  const pending = (await consumer.info()).num_pending;
  const out: JsMsg[] = [];
  if (pending > 0) for await (const m of await consumer.fetch({ max_messages: pending, expires: 5000 })) out.push(m);
  await jsm.consumers.delete(stream, name);
  return out;
}
