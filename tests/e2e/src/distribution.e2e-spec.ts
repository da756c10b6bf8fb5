import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, IncomingMessage } from 'node:http';
import { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { connect, NatsConnection } from 'nats';
import { Consumers, Streams } from '@fleetcast/contracts';
import {
  ApiClient,
  ControlPlane,
  createTestDatabase,
  NatsServer,
  NodeProcess,
  startAgentProcess,
  startControlPlane,
  startNatsServer,
  stopAll,
  TestDatabase,
  waitFor,
} from '@fleetcast/testing';
import { verifyWebhook, WEBHOOK_SIGNATURE_HEADER } from '@fleetcast/webhook-signature';

/**
 * The whole system as separate processes: NATS, Postgres, inventory, tasks, origin, gateway and
 * four agents. A 50 MB package goes through the public API to every agent.
 */
const MB = 1024 * 1024;
const TOKEN = `e2e-${randomBytes(8).toString('hex')}`;

let nats: NatsServer;
let db: TestDatabase;
let work: string;
let cp: ControlPlane;
let api: ApiClient;
let nc: NatsConnection;
const agents = new Map<string, NodeProcess>();

/** A deterministic pseudo-random stream of `size` bytes, generated as it is read (never held whole). */
function generated(size: number, seed: string): { stream: () => Readable; sha256: string } {
  const chunk = (i: number) => createHash('sha512').update(`${seed}:${i}`).digest();
  const hash = createHash('sha256');
  const chunks = Math.ceil(size / 64);
  for (let i = 0; i < chunks; i++) hash.update(chunk(i).subarray(0, Math.min(64, size - i * 64)));
  return {
    sha256: hash.digest('hex'),
    stream: () =>
      Readable.from(
        (function* () {
          // 64 KiB slices of the same sequence.
          for (let i = 0; i < chunks; i += 1024) {
            const parts: Buffer[] = [];
            for (let j = i; j < Math.min(i + 1024, chunks); j++) parts.push(chunk(j).subarray(0, Math.min(64, size - j * 64)));
            yield Buffer.concat(parts);
          }
        })(),
      ),
  };
}

const agentDir = (id: string) => join(work, 'agents', id);
const markerOf = (id: string) => join(work, 'markers', `${id}.installed`);

async function startAgent(id: string): Promise<NodeProcess> {
  // Every agent serves its local status endpoint on a free port (announced in its log).
  // Every device downloads from the origin here (the LAN session has tests of its own).
  // Install commands see only what the agent passes on by name: the marker path, given here.
  const args = ['--status-port', '0', '--no-multicast', '--installer-env', 'MARKER_FILE'];
  const proc = await startAgentProcess({ natsUrl: nats.url, controlPlane: cp, deviceId: id, dir: agentDir(id), args, env: { MARKER_FILE: markerOf(id), LOG_LEVEL: 'info' } });
  agents.set(id, proc);
  await proc.waitForOutput(/agent ready/, { timeoutMs: 30_000 });
  return proc;
}

async function createReadyPackage(name: string, size: number, installArgs: string[]) {
  const content = generated(size, name);
  const pkg = await api.ok('POST', '/v1/packages', { name, version: '1.0.0', platform: 'linux', installCommand: '/bin/sh', installArgs, timeoutSeconds: 60 });
  const uploaded = await api.upload(pkg.id, content.stream(), { 'x-content-sha256': content.sha256 });
  assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
  assert.equal(uploaded.body.status, 'ready');
  assert.equal(uploaded.body.contentId, content.sha256);
  return { pkg: uploaded.body, sha256: content.sha256 };
}

async function summaryWhen(taskId: string, done: (s: any) => boolean, what: string, timeoutMs = 120_000) {
  let last: unknown;
  try {
    return await waitFor(
      async () => {
        const s = await api.ok('GET', `/v1/tasks/${taskId}/summary`);
        last = s.counts;
        return done(s) ? s : null;
      },
      { timeoutMs, intervalMs: 250, description: what },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last counts ${JSON.stringify(last)}`);
  }
}

describe('end to end: services and agents as processes', () => {
  before(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase('e2e');
    work = await mkdtemp(join(tmpdir(), 'fleetcast-e2e-'));
    await mkdir(join(work, 'markers'));
    cp = await startControlPlane({ natsUrl: nats.url, trustDir: nats.trust?.dir, databaseUrl: db.url, workDir: join(work, 'control-plane'), apiToken: TOKEN, logLevel: 'info' });
    api = new ApiClient(cp.gatewayUrl, TOKEN);
    nc = await connect(nats.adminConnectOptions());
    for (const id of ['e2e-dev-1', 'e2e-dev-2', 'e2e-dev-3']) await startAgent(id);
    await waitFor(async () => (await api.ok('GET', '/v1/devices')).total === 3, { timeoutMs: 20_000, description: 'the inventory knows the three agents' });
  });

  after(async () => {
    await nc?.close();
    await stopAll();
    await db?.drop();
    // FLEETCAST_KEEP_TEST_FILES=1 keeps the logs and state of every process for a post-mortem.
    if (work && !process.env.FLEETCAST_KEEP_TEST_FILES) await rm(work, { recursive: true, force: true });
    else if (work) console.log(`kept ${work}`);
  });

  test('install task: 50 MB to three agents and a fourth that starts later, tasks service restarted midway', async () => {
    const { pkg, sha256 } = await createReadyPackage('e2e-tool', 50 * MB, ['-c', 'sha256sum "$FLEETCAST_PACKAGE_PATH" > "$MARKER_FILE"']);
    const devices = ['e2e-dev-1', 'e2e-dev-2', 'e2e-dev-3', 'e2e-dev-4'];
    const jsm = await nc.jetstreamManager();
    const statusStream = Consumers.deviceStatusIngest.stream.name;
    const reportsBefore = (await jsm.streams.info(statusStream)).state.messages;
    const assignmentsBefore = (await jsm.streams.info(Streams.taskAssignments.name)).state.messages;
    const task = await api.ok('POST', '/v1/tasks', { packageId: pkg.id, action: 'install', targets: { deviceIds: devices } });
    assert.equal(task.summary.total, 4);

    // Crash the tasks service as soon as the assignments are out. The agents acknowledge into
    // JetStream and cannot fetch the manifest (the control plane is down), so they retry; their
    // reports wait in the stream.
    await waitFor(async () => (await jsm.streams.info(Streams.taskAssignments.name)).state.messages >= assignmentsBefore + 4, {
      timeoutMs: 10_000,
      description: 'four assignments published',
    });
    await cp.processes.tasks.kill();
    await waitFor(async () => (await jsm.streams.info(statusStream)).state.messages >= reportsBefore + 3, {
      timeoutMs: 30_000,
      description: 'the three agents report while the tasks service is down',
    });
    await cp.start('tasks');
    // The fourth agent has never run: it finds the task in the stream when it connects.
    await startAgent('e2e-dev-4');

    const summary = await summaryWhen(task.id, (s) => s.counts.succeeded === 4, 'all four succeeded');
    assert.equal(summary.counts.failed, 0);
    assert.ok(summary.bytes.origin >= 4 * 50 * MB, `origin bytes ${summary.bytes.origin}`);
    const rows = (await api.ok('GET', `/v1/tasks/${task.id}/devices`)).items;
    for (const row of rows) {
      assert.equal(row.state, 'succeeded', JSON.stringify(row));
      assert.equal(row.hashVerified, true);
      assert.equal(row.exitCode, 0);
      assert.ok(row.bytes.origin >= 50 * MB);
    }
    for (const id of devices) {
      assert.match(readFileSync(markerOf(id), 'utf8'), new RegExp(`^${sha256} `), `${id} installed the verified file`);
    }
    // What a person on the device sees: its own status and metrics.
    const [, port] = await agents.get('e2e-dev-4')!.waitForOutput(/"port":(\d+),"msg":"status endpoint/);
    const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as { deviceId: string; tasks: Array<{ taskId: string; state: string }> };
    assert.equal(status.deviceId, 'e2e-dev-4');
    assert.deepEqual(status.tasks.find((t) => t.taskId === task.id)?.state, 'succeeded');
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const received = Number(/fleetcast_agent_bytes_received_total\{[^}]*source="origin"[^}]*\} (\d+)/.exec(metrics)?.[1]);
    assert.ok(received >= 50 * MB, `agent metrics count ${received} bytes from the origin`);
    assert.match(metrics, /fleetcast_agent_tasks\{[^}]*state="succeeded"[^}]*\} 1/);
    assert.equal((await api.ok('GET', `/v1/tasks/${task.id}`)).status, 'completed');
    // Nothing was left unprocessed by the restart: the status consumer has no backlog.
    // Messages the crashed instance had pulled come back after the consumer's ack wait.
    await waitFor(
      async () => {
        const info = await jsm.consumers.info(statusStream, Consumers.deviceStatusIngest.durableName);
        return info.num_pending + info.num_ack_pending === 0;
      },
      { timeoutMs: (Consumers.deviceStatusIngest.ackWaitSeconds + 15) * 1000, description: 'status consumer backlog drained' },
    );
  });

  test('cache-only task: the file lands in each cache and nothing runs; a webhook receiver hears task.completed, signed', async () => {
    // An external system subscribed through the public API, listening on this host.
    const deliveries: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/fleetcast`;
    const { secret } = await api.ok('POST', '/v1/webhooks', { url: hookUrl, events: ['task.completed'] });

    const { pkg, sha256 } = await createReadyPackage('e2e-precache', 3 * MB, ['-c', 'touch "$MARKER_FILE.cache-only-ran"']);
    const devices = ['e2e-dev-1', 'e2e-dev-2', 'e2e-dev-3'];
    const task = await api.ok('POST', '/v1/tasks', { packageId: pkg.id, action: 'cache-only', targets: { deviceIds: devices } });
    await summaryWhen(task.id, (s) => s.counts.succeeded === 3, 'all three cached', 60_000);
    const completed = await waitFor(() => deliveries.find((d) => d.body.includes(task.id)), { timeoutMs: 30_000, description: 'the task.completed webhook' });
    receiver.close();
    assert.ok(verifyWebhook({ secret, header: completed.headers[WEBHOOK_SIGNATURE_HEADER], body: completed.body }).ok, 'signed with the subscription secret');
    const body = JSON.parse(completed.body) as { type: string; data: { taskId: string; devices: number; succeeded: number; failed: number } };
    assert.equal(body.type, 'task.completed');
    assert.deepEqual([body.data.taskId, body.data.devices, body.data.succeeded, body.data.failed], [task.id, 3, 3, 0]);
    for (const id of devices) {
      const cached = join(agentDir(id), 'cache', 'content', sha256);
      assert.equal(createHash('sha256').update(await readFile(cached)).digest('hex'), sha256, `${id} cached the content`);
      assert.equal(existsSync(`${markerOf(id)}.cache-only-ran`), false, `${id} ran nothing`);
    }
  });

  test('a cache size limit from the task profile evicts least recently used content first', async () => {
    const before = (await readdir(join(agentDir('e2e-dev-1'), 'cache', 'content'))).sort();
    assert.ok(before.length >= 2, `earlier tests left content in the cache: ${before.join(', ')}`);
    const profile = await api.ok('POST', '/v1/profiles', { name: 'small cache', cacheSizeLimitBytes: 6 * MB });
    const { pkg, sha256 } = await createReadyPackage('e2e-small', 4 * MB, ['-c', 'true']);
    const task = await api.ok('POST', '/v1/tasks', { packageId: pkg.id, action: 'cache-only', targets: { deviceIds: ['e2e-dev-1'] }, profileId: profile.id });
    await summaryWhen(task.id, (s) => s.counts.succeeded === 1, 'cached under the limit', 60_000);
    // 50 MB + 3 MB cached, 4 MB incoming, 6 MB allowed: both older files go, oldest first.
    assert.deepEqual(await readdir(join(agentDir('e2e-dev-1'), 'cache', 'content')), [sha256]);
    assert.ok(existsSync(join(agentDir('e2e-dev-2'), 'cache', 'content', before[0])), 'other devices keep their cache');
  });

  test('a wrong declared hash is refused and leaves no content behind', async () => {
    const content = generated(2 * MB, 'wrong-hash');
    const pkg = await api.ok('POST', '/v1/packages', { name: 'bad', version: '1', platform: 'linux', installCommand: '/bin/true' });
    const res = await api.upload(pkg.id, content.stream(), { 'x-content-sha256': 'f'.repeat(64) });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.code, 'ORIGIN.HASH_MISMATCH');
    // Downloads need a device's token (401 without one); the block hashes say whether the origin holds it.
    assert.equal((await fetch(`${cp.originUrl}/v1/content/${content.sha256}`, { method: 'HEAD' })).status, 401);
    assert.equal((await fetch(`${cp.originUrl}/v1/content/${content.sha256}/blocks`)).status, 404);
    assert.equal((await api.ok('GET', `/v1/packages/${pkg.id}`)).status, 'awaiting-content');
  });
});
