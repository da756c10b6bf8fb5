import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, request, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import {
  ApiClient,
  ControlPlane,
  createTestDatabase,
  freePort,
  NatsServer,
  NodeProcess,
  startAgentProcess,
  startControlPlane,
  startNatsServer,
  stopAll,
  TestDatabase,
  waitFor,
} from '@fleetcast/testing';

/**
 * Failures of the world around a distribution: a slow WAN (a real throttling HTTP proxy between the
 * agents and the origin), an agent killed mid-download, and a NATS outage mid-task.
 */
const MB = 1024 * 1024;
const TOKEN = `e2e-${randomBytes(8).toString('hex')}`;
/** The WAN link of this test: 25 MB/s, so a 40 MB download takes long enough to interrupt. */
const WAN_BYTES_PER_SECOND = 25 * MB;

let nats: NatsServer;
let db: TestDatabase;
let work: string;
let cp: ControlPlane;
let api: ApiClient;
let wan: Server;
const agents = new Map<string, NodeProcess>();

/** Paces a stream to `rate` bytes/s (a token bucket refilled every 10 ms). */
function throttle(rate: number): Transform {
  let start = Date.now();
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const push = (offset: number) => {
        if (offset >= chunk.length) return done();
        const allowed = Math.floor(((Date.now() - start) / 1000) * rate) - sent;
        if (allowed <= 0) return void setTimeout(() => push(offset), 10);
        const piece = chunk.subarray(offset, offset + allowed);
        sent += piece.length;
        this.push(piece);
        push(offset + piece.length);
      };
      if (sent === 0) start = Date.now();
      push(0);
    },
  });
}

/** A slow WAN in front of the origin: forwards each request and paces the response body. */
async function startWan(originUrl: string, port: number): Promise<void> {
  const origin = new URL(originUrl);
  wan = createServer((req, res) => {
    const upstream = request({ host: origin.hostname, port: origin.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(throttle(WAN_BYTES_PER_SECOND)).pipe(res);
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => wan.listen(port, '127.0.0.1', r));
}

const agentDir = (id: string) => join(work, 'agents', id);

async function startAgent(id: string): Promise<NodeProcess> {
  // Downloads from the (throttled) origin, which is what this test breaks; the LAN session has tests of its own.
  const proc = await startAgentProcess({ natsUrl: nats.url, controlPlane: cp, deviceId: id, dir: agentDir(id), args: ['--no-multicast'] });
  agents.set(id, proc);
  await proc.waitForOutput(/agent ready/, { timeoutMs: 30_000 });
  return proc;
}

async function readyPackage(name: string, size: number) {
  const data = randomBytes(size);
  const sha256 = createHash('sha256').update(data).digest('hex');
  const pkg = await api.ok('POST', '/v1/packages', { name, version: '1', platform: 'linux', installCommand: '/bin/true' });
  const up = await api.upload(pkg.id, new Blob([data]).stream(), { 'x-content-sha256': sha256 });
  assert.equal(up.status, 200, JSON.stringify(up.body));
  return { pkg: up.body, sha256 };
}

async function servedTo(device: string): Promise<number> {
  const stats = (await (await fetch(`${cp.originUrl}/v1/stats/bytes-served`)).json()) as { byDevice: Record<string, number> };
  return stats.byDevice[device] ?? 0;
}

async function cached(id: string, sha256: string): Promise<boolean> {
  const path = join(agentDir(id), 'cache', 'content', sha256);
  return existsSync(path) && createHash('sha256').update(await readFile(path)).digest('hex') === sha256;
}

describe('resilience: slow WAN, agent killed mid-download, NATS outage', () => {
  before(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase('e2e_resilience');
    work = await mkdtemp(join(tmpdir(), 'fleetcast-e2e-res-'));
    await mkdir(join(work, 'agents'), { recursive: true });
    // Devices download through the slow link: the tasks service hands out the proxy's address.
    const wanPort = await freePort();
    cp = await startControlPlane({
      natsUrl: nats.url,
      trustDir: nats.trust?.dir,
      databaseUrl: db.url,
      workDir: join(work, 'control-plane'),
      apiToken: TOKEN,
      env: { tasks: { ORIGIN_PUBLIC_URL: `http://127.0.0.1:${wanPort}` } },
    });
    await startWan(cp.originUrl, wanPort);
    api = new ApiClient(cp.gatewayUrl, TOKEN);
    for (const id of ['res-1', 'res-2', 'res-3']) await startAgent(id);
  });

  after(async () => {
    wan?.close();
    await stopAll();
    await db?.drop();
    if (work && !process.env.FLEETCAST_KEEP_TEST_FILES) await rm(work, { recursive: true, force: true });
  });

  test('an agent killed mid-download resumes where it stopped instead of starting over', async () => {
    const size = 40 * MB;
    const { pkg, sha256 } = await readyPackage('resume-me', size);
    const task = await api.ok('POST', '/v1/tasks', { packageId: pkg.id, action: 'cache-only', targets: { deviceIds: ['res-1'] } });
    // Kill it once about a third has crossed the WAN.
    await waitFor(async () => (await servedTo('res-1')) >= 12 * MB, { timeoutMs: 30_000, intervalMs: 20, description: 'a third downloaded' });
    await agents.get('res-1')!.kill();
    const beforeRestart = await servedTo('res-1');
    assert.ok(beforeRestart < size, `killed before the end (${beforeRestart} bytes served)`);
    const restarted = await startAgent('res-1');
    await waitFor(async () => (await api.ok('GET', `/v1/tasks/${task.id}/summary`)).counts.succeeded === 1, { timeoutMs: 60_000, description: 'resumed download completes' });
    assert.ok(await cached('res-1', sha256));
    // The restarted agent fetched only the blocks it did not have verified on disk.
    const [, fetched] = await restarted.waitForOutput(/"blocksFetched":(\d+)/, { timeoutMs: 5000 });
    const blocks = size / MB;
    assert.ok(Number(fetched) > 0 && Number(fetched) < blocks - 5, `the restarted agent fetched ${fetched} of ${blocks} blocks`);
    // And the WAN carried less than starting over would have (the figure includes what the slow
    // link's buffers held when the process died, which is why it is above the package size).
    const total = await servedTo('res-1');
    assert.ok(total < beforeRestart + size - 4 * MB, `origin served ${total} bytes for a ${size}-byte package (${beforeRestart} before the kill)`);
  });

  test('a NATS outage mid-task loses nothing: agents spool, services reconnect, everyone completes', async () => {
    const size = 30 * MB;
    const { pkg, sha256 } = await readyPackage('outage', size);
    const devices = ['res-1', 'res-2', 'res-3'];
    const task = await api.ok('POST', '/v1/tasks', { packageId: pkg.id, action: 'cache-only', targets: { deviceIds: devices } });
    // Wait until every agent is downloading (it has the manifest), then take NATS away.
    await waitFor(async () => (await Promise.all(devices.map(servedTo))).every((n) => n > 0), { timeoutMs: 30_000, intervalMs: 20, description: 'all downloading' });
    await nats.halt();
    const during = await api.request('GET', `/v1/tasks/${task.id}/summary`);
    assert.equal(during.status, 503, 'the API says the control plane is unavailable, it does not hang or crash');
    // Downloads go on over HTTP; their reports wait in each agent's spool.
    await waitFor(async () => (await Promise.all(devices.map((d) => cached(d, sha256)))).every(Boolean), { timeoutMs: 60_000, description: 'downloads finish during the outage' });
    await nats.start();
    const summary = await waitFor(
      async () => {
        const res = await api.request('GET', `/v1/tasks/${task.id}/summary`);
        return res.status === 200 && res.body.counts.succeeded === 3 ? res.body : null;
      },
      { timeoutMs: 60_000, description: 'all three succeeded after NATS came back' },
    );
    assert.equal(summary.counts.failed, 0);
    assert.ok(summary.bytes.origin >= 3 * size);
    for (const p of agents.values()) assert.ok(p.running, `${p.name} survived the outage`);
    for (const name of ['inventory', 'tasks', 'gateway'] as const) assert.ok(cp.processes[name].running, `${name} survived the outage`);
  });
});
