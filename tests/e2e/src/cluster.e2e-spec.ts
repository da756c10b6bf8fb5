import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { Streams } from '@fleetcast/contracts';
import { natsServers } from '@fleetcast/nats';
import {
  ApiClient,
  ControlPlane,
  createTestDatabase,
  NatsCluster,
  NatsServer,
  NodeProcess,
  startAgentProcess,
  startControlPlane,
  startNatsCluster,
  startNatsLeaf,
  startTcpRelay,
  stopAll,
  TcpRelay,
  TestDatabase,
  waitFor,
} from '@fleetcast/testing';

/**
 * The control plane and its agents on a 3-node JetStream cluster with every stream in three
 * copies: a distribution completes while the node leading the status stream is killed and
 * restarted, with every report applied once. Then a branch behind a leaf node: its agents
 * connect to the leaf, and a distribution completes while the leaf's uplink is cut for 20 s and a
 * core node is killed and restarted meanwhile.
 */
const MB = 1024 * 1024;
const TOKEN = `e2e-${randomBytes(8).toString('hex')}`;
const DEVICES = ['cl-1', 'cl-2', 'cl-3', 'cl-4'];
const BRANCH_DEVICES = ['br-1', 'br-2', 'br-3'];
const UPLINK_CUT_MS = 20_000;

let cluster: NatsCluster;
let db: TestDatabase;
let work: string;
let cp: ControlPlane;
let api: ApiClient;
let leaf: NatsServer;
let uplink: TcpRelay[];
const agents = new Map<string, NodeProcess>();

const agentDir = (id: string) => join(work, 'agents', id);

async function cached(id: string, sha256: string): Promise<boolean> {
  const path = join(agentDir(id), 'cache', 'content', sha256);
  return existsSync(path) && createHash('sha256').update(await readFile(path)).digest('hex') === sha256;
}

/** The cluster node whose name the stream's leader has, found through any node that answers. */
async function leaderOf(stream: string) {
  const nc = await connect({ ...cluster.adminConnectOptions(), servers: natsServers(cluster.url) });
  try {
    const info = await (await nc.jetstreamManager()).streams.info(stream);
    assert.equal(info.config.num_replicas, 3, `${stream} is kept in three copies`);
    const node = cluster.nodes.find((n) => info.cluster?.leader === `fleetcast-test-${n.port}`);
    assert.ok(node, `${stream}'s leader ${info.cluster?.leader} is a node of the cluster`);
    return node;
  } finally {
    await nc.close();
  }
}

/** Every device holds a verified copy, and its history shows each report applied once, in order. */
async function assertEachReportOnce(taskId: string, devices: string[], sha256: string): Promise<void> {
  for (const id of devices) {
    assert.ok(await cached(id, sha256), `${id} holds a verified copy`);
    const history = await api.ok('GET', `/v1/tasks/${taskId}/devices/${id}/history`);
    const entries = history.items as Array<{ seq: number; state: string }>;
    const states = entries.map((e) => `${e.state}#${e.seq}`).join(' > ');
    assert.equal(entries.filter((e) => e.state === 'succeeded').length, 1, `${id}: ${states}`);
    assert.ok(entries.every((e, i) => i === 0 || e.seq > entries[i - 1]!.seq), `${id}'s reports applied once each, in order: ${states}`);
  }
}

describe('a NATS cluster at the core', () => {
  before(async () => {
    cluster = await startNatsCluster({ size: 3 });
    db = await createTestDatabase('e2e_cluster');
    work = await mkdtemp(join(tmpdir(), 'fleetcast-e2e-cluster-'));
    await mkdir(join(work, 'agents'), { recursive: true });
    cp = await startControlPlane({
      natsUrl: cluster.url,
      trustDir: cluster.trust.dir,
      databaseUrl: db.url,
      workDir: join(work, 'control-plane'),
      apiToken: TOKEN,
      commonEnv: { JETSTREAM_REPLICAS: '3' },
    });
    api = new ApiClient(cp.gatewayUrl, TOKEN);
    for (const id of DEVICES) {
      // Origin downloads only: the LAN session has tests of its own; this one is about NATS.
      const proc = await startAgentProcess({ natsUrl: cluster.url, controlPlane: cp, deviceId: id, dir: agentDir(id), args: ['--no-multicast'] });
      agents.set(id, proc);
      await proc.waitForOutput(/agent ready/, { timeoutMs: 30_000 });
    }
    // The branch: a leaf node whose link to the core runs through relays the test can cut.
    uplink = await Promise.all(cluster.leafUrls.map((u) => startTcpRelay({ port: Number(u.split(':').pop()) })));
    leaf = await startNatsLeaf({ core: { leafUrls: uplink.map((r) => `nats-leaf://127.0.0.1:${r.port}`), trustDir: cluster.trust.dir, jetstreamDomain: cluster.jetstreamDomain } });
    for (const id of BRANCH_DEVICES) {
      const proc = await startAgentProcess({
        natsUrl: leaf.url,
        controlPlane: cp,
        deviceId: id,
        dir: agentDir(id),
        args: ['--no-multicast', '--nats-js-domain', cluster.jetstreamDomain],
      });
      agents.set(id, proc);
      await proc.waitForOutput(/agent ready/, { timeoutMs: 30_000 });
    }
  });

  after(async () => {
    await stopAll();
    await db?.drop();
    if (work && !process.env.FLEETCAST_KEEP_TEST_FILES) await rm(work, { recursive: true, force: true });
  });

  test('a distribution completes while the status stream leader is killed and restarted; each report counts once', { timeout: 240_000 }, async () => {
    const size = 24 * MB;
    const data = randomBytes(size);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const pkg = await api.ok('POST', '/v1/packages', { name: 'cluster', version: '1', platform: 'linux', installCommand: '/bin/true' });
    const up = await api.upload(pkg.id, new Blob([data]).stream(), { 'x-content-sha256': sha256 });
    assert.equal(up.status, 200, JSON.stringify(up.body));

    const victim = await leaderOf(Streams.deviceStatus.name);
    const task = await api.ok('POST', '/v1/tasks', { packageId: pkg.id, action: 'install', targets: { deviceIds: DEVICES } });
    await victim.halt({ signal: 'SIGKILL' });
    // The other two carry on: the API answers and agents keep reporting through them.
    await waitFor(async () => (await api.request('GET', `/v1/tasks/${task.id}/summary`)).status === 200, {
      timeoutMs: 30_000,
      description: 'the API answers with one node down',
    });
    await new Promise((r) => setTimeout(r, 3_000));
    await victim.start();

    const summary = await waitFor(
      async () => {
        const res = await api.request('GET', `/v1/tasks/${task.id}/summary`);
        return res.status === 200 && res.body.counts.succeeded === DEVICES.length ? res.body : null;
      },
      { timeoutMs: 120_000, description: 'every device succeeded' },
    );
    assert.equal(summary.counts.failed, 0);
    assert.equal(summary.total, DEVICES.length);
    await assertEachReportOnce(task.id, DEVICES, sha256);
    for (const [name, proc] of Object.entries(cp.processes)) assert.ok(proc.running, `${name} survived the node's loss`);
    for (const proc of agents.values()) assert.ok(proc.running, `${proc.name} survived the node's loss`);
  });

  test('a branch behind a leaf completes through a 20 s uplink cut and a core node lost meanwhile', { timeout: 240_000 }, async () => {
    const size = 8 * MB;
    const data = randomBytes(size);
    const sha256 = createHash('sha256').update(data).digest('hex');
    // The install takes a while, so that the devices are mid-task when the WAN goes.
    const pkg = await api.ok('POST', '/v1/packages', { name: 'branch', version: '1', platform: 'linux', installCommand: '/bin/sleep', installArgs: ['10'] });
    const up = await api.upload(pkg.id, new Blob([data]).stream(), { 'x-content-sha256': sha256 });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    const task = await api.ok('POST', '/v1/tasks', { packageId: pkg.id, action: 'install', targets: { deviceIds: BRANCH_DEVICES } });
    await waitFor(async () => (await api.ok('GET', `/v1/tasks/${task.id}/summary`)).counts.installing === BRANCH_DEVICES.length, {
      timeoutMs: 60_000,
      intervalMs: 100,
      description: 'every branch device installing, as reported through the leaf',
    });

    for (const r of uplink) r.cut();
    const cutAt = Date.now();
    // On a loaded machine one device may end its install before the cut: its report crossed before it.
    const doneBeforeCut = BRANCH_DEVICES.filter((id) => /"to":"succeeded"/.test(agents.get(id)!.output()));
    assert.ok(doneBeforeCut.length < BRANCH_DEVICES.length, 'at least one device still installing when the uplink was cut');
    // A core node dies and comes back while the branch is cut off.
    const victim = await leaderOf(Streams.deviceStatus.name);
    await victim.halt({ signal: 'SIGKILL' });
    await new Promise((r) => setTimeout(r, 3_000));
    await victim.start();
    // The installs end during the cut: their reports wait at the devices.
    await Promise.all(BRANCH_DEVICES.map((id) => agents.get(id)!.waitForOutput(/"to":"succeeded"/, { timeoutMs: UPLINK_CUT_MS })));
    const during = await api.ok('GET', `/v1/tasks/${task.id}/summary`);
    assert.ok(
      during.counts.succeeded <= doneBeforeCut.length,
      `no report crossed the cut uplink: ${during.counts.succeeded} succeeded, ${doneBeforeCut.length} of them before the cut`,
    );
    for (const id of BRANCH_DEVICES) assert.ok(agents.get(id)!.running, `${id} keeps running, connected to its leaf`);
    await new Promise((r) => setTimeout(r, Math.max(0, UPLINK_CUT_MS - (Date.now() - cutAt))));
    for (const r of uplink) r.restore();

    const summary = await waitFor(
      async () => {
        const res = await api.request('GET', `/v1/tasks/${task.id}/summary`);
        return res.status === 200 && res.body.counts.succeeded === BRANCH_DEVICES.length ? res.body : null;
      },
      { timeoutMs: 90_000, description: 'every branch device succeeded once the uplink was back' },
    );
    assert.equal(summary.counts.failed, 0);
    await assertEachReportOnce(task.id, BRANCH_DEVICES, sha256);
  });
});
