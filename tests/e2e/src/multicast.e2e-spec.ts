import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/**
 * Subnet multicast through the whole system on one host: four agents started with `--multicast` on
 * the loopback interface (the inventory puts them all on this host's subnet) get a cache-only task
 * whose profile asks for multicast. One of them is elected representative and is the only one that
 * downloads from the origin; the others receive the multicast.
 */
const MB = 1024 * 1024;
const SIZE = 8 * MB;
const TOKEN = `e2e-${randomBytes(8).toString('hex')}`;
const DEVICES = ['mc-dev-1', 'mc-dev-2', 'mc-dev-3', 'mc-dev-4'];
/** A port of its own (not the protocol default nor the agent's int tests'), so that nothing else on the host joins. */
const PORT = String(47_000 + (process.pid % 400));

let nats: NatsServer;
let db: TestDatabase;
let work: string;
let cp: ControlPlane;
let api: ApiClient;
const agents = new Map<string, NodeProcess>();
const statusUrls = new Map<string, string>();

const agentDir = (id: string) => join(work, 'agents', id);

async function startAgent(id: string): Promise<NodeProcess> {
  const proc = await startAgentProcess({
    natsUrl: nats.url,
    controlPlane: cp,
    deviceId: id,
    dir: agentDir(id),
    args: ['--multicast', '--lan-interface', '127.0.0.1', '--multicast-port', PORT, '--peer-port', '0', '--status-port', '0'],
  });
  agents.set(id, proc);
  await proc.waitForOutput(/agent ready/, { timeoutMs: 30_000 });
  const [, port] = await proc.waitForOutput(/"port":(\d+).*status endpoint/, { timeoutMs: 5_000 });
  statusUrls.set(id, `http://127.0.0.1:${port}`);
  return proc;
}

/** One sample of the agent's /metrics, summed over its labels. */
async function metric(id: string, name: string): Promise<number> {
  const text = await (await fetch(`${statusUrls.get(id)}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('end to end: subnet multicast', () => {
  before(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase('e2e_mc');
    work = await mkdtemp(join(tmpdir(), 'fleetcast-e2e-mc-'));
    cp = await startControlPlane({ natsUrl: nats.url, trustDir: nats.trust?.dir, databaseUrl: db.url, workDir: join(work, 'control-plane'), apiToken: TOKEN, logLevel: 'info' });
    api = new ApiClient(cp.gatewayUrl, TOKEN);
    await Promise.all(DEVICES.map(startAgent));
    await waitFor(async () => (await api.ok('GET', '/v1/devices')).total === DEVICES.length, { timeoutMs: 60_000, description: 'the inventory knows the four agents' });
  });

  after(async () => {
    await stopAll();
    await db?.drop();
    if (work && !process.env.FLEETCAST_KEEP_TEST_FILES) await rm(work, { recursive: true, force: true });
    else if (work) console.log(`kept ${work}`);
  });

  test('cache-only task, 8 MiB to four agents: one representative downloads from the origin, the others get the multicast', async () => {
    const data = randomBytes(SIZE);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const pkg = await api.ok('POST', '/v1/packages', { name: 'mc-package', version: '1', platform: 'linux', installCommand: '/bin/true' });
    const uploaded = await api.upload(pkg.id, new Blob([data]).stream(), { 'x-content-sha256': sha256 });
    assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
    assert.equal(uploaded.body.status, 'ready');
    const profile = await api.ok('POST', '/v1/profiles', { name: 'multicast, 3 s start delay', useMulticast: true, sessionStartDelaySeconds: 3 });
    const servedBefore = ((await (await fetch(`${cp.originUrl}/v1/stats/bytes-served`)).json()) as { total: number }).total;

    const task = await api.ok('POST', '/v1/tasks', { packageId: pkg.id, action: 'cache-only', targets: { deviceIds: DEVICES }, profileId: profile.id });
    const summary = await waitFor(
      async () => {
        const s = await api.ok('GET', `/v1/tasks/${task.id}/summary`);
        return s.counts.succeeded + s.counts.failed === DEVICES.length && s.subnets.every((n: any) => n.lan?.representative) ? s : null;
      },
      { timeoutMs: 120_000, intervalMs: 250, description: 'every device done and the representative reported' },
    );
    assert.equal(summary.counts.succeeded, DEVICES.length, JSON.stringify(summary.counts));

    for (const id of DEVICES) {
      const copy = await readFile(join(agentDir(id), 'cache', 'content', sha256));
      assert.equal(createHash('sha256').update(copy).digest('hex'), sha256, `${id} holds a verified copy`);
    }

    const devices = (await api.ok('GET', `/v1/tasks/${task.id}/devices?limit=100`)).items as Array<{ deviceId: string; bytes: { origin: number; multicast: number; peer: number } }>;
    const served = ((await (await fetch(`${cp.originUrl}/v1/stats/bytes-served`)).json()) as { total: number }).total - servedBefore;
    assert.equal(summary.subnets.length, 1, 'the four agents share one subnet');
    const lan = summary.subnets[0].lan;
    const representative = lan.representative as string;
    for (const d of [...devices].sort((a, b) => a.deviceId.localeCompare(b.deviceId))) {
      console.log(`[measure] ${d.deviceId}${d.deviceId === representative ? ' (representative)' : ''}: origin ${d.bytes.origin}, multicast ${d.bytes.multicast}, peer ${d.bytes.peer}`);
    }
    console.log(
      `[measure] origin served ${served} bytes for a ${SIZE}-byte package: ${(served / SIZE).toFixed(4)} x; LAN bytes sent ${lan.lanBytesSent} (${(lan.lanBytesSent / SIZE).toFixed(4)} x), repairs ${lan.repairs}, invalid packets ${lan.invalidPackets}, session started ${lan.sessionStartedAt}`,
    );

    assert.ok(DEVICES.includes(representative), `representative ${representative}`);
    // Each agent logs the role its election settled on: exactly one representative on the subnet.
    const roles = await Promise.all(
      DEVICES.map(async (id) => {
        const lines = (await readFile(join(agentDir(id), 'agent.log'), 'utf8')).split('\n').filter((l) => l.includes('"LAN session role"') && l.includes(task.id));
        return lines.map((l) => (JSON.parse(l) as { role: string }).role);
      }),
    );
    assert.deepEqual(roles.map((r) => r.length), [1, 1, 1, 1], `one role per agent: ${JSON.stringify(roles)}`);
    assert.deepEqual(DEVICES.filter((_, i) => roles[i]![0] === 'representative'), [representative], `roles ${JSON.stringify(roles)}`);
    for (const d of devices) {
      if (d.deviceId === representative) {
        assert.ok(d.bytes.origin >= SIZE && d.bytes.origin <= 1.02 * SIZE, `${d.deviceId}: origin ${d.bytes.origin}`);
        assert.equal(d.bytes.multicast, 0);
      } else {
        assert.equal(d.bytes.origin, 0, `${d.deviceId} downloaded nothing from the origin`);
        assert.ok(d.bytes.multicast >= SIZE && d.bytes.multicast <= 1.1 * SIZE, `${d.deviceId}: multicast ${d.bytes.multicast}`);
      }
    }
    // The agents' own metrics: the representative sent the packets, every other device received them.
    for (const id of DEVICES) {
      const sent = await metric(id, 'fleetcast_agent_lan_bytes_sent_total');
      const received = await metric(id, 'fleetcast_agent_lan_packets_received_total');
      console.log(`[measure] ${id} metrics: LAN bytes sent ${sent}, packets received ${received}, invalid ${await metric(id, 'fleetcast_agent_lan_packets_invalid_total')}`);
      if (id === representative) assert.ok(sent >= SIZE, `${id}: LAN bytes sent ${sent}`);
      else assert.ok(received >= SIZE / 1500, `${id}: LAN packets received ${received}`);
      // And its local status shows the task's LAN role.
      const status = (await (await fetch(`${statusUrls.get(id)}/status`)).json()) as { tasks: Array<{ taskId: string; lan: { role: string } | null }> };
      assert.equal(status.tasks.find((t) => t.taskId === task.id)?.lan?.role, id === representative ? 'representative' : 'receiver', `${id}'s /status`);
    }
    assert.ok(served <= 1.02 * SIZE, `origin served ${served} bytes, at most 1.02 x ${SIZE}`);
    assert.ok(lan.lanBytesSent >= SIZE, `LAN bytes sent ${lan.lanBytesSent}`);
    assert.notEqual(lan.sessionStartedAt, null);
  });

  test('a topology whose office is wifi reaches the agents at once (an event), and their next task skips the multicast, saying why', async () => {
    // The agents' loopback addresses put them in no office: they are in the default office, here a wifi one.
    const uploadedAt = performance.now();
    await api.ok('POST', '/v1/topology', { schemaVersion: 1, origin: { addresses: ['10.0.0.10'] }, offices: [{ id: 'hq', name: 'Headquarters', type: 'wifi', subnets: ['10.0.0.0/16'] }] });
    await waitFor(
      async () => {
        const offices = await Promise.all(DEVICES.map(async (id) => ((await (await fetch(`${statusUrls.get(id)}/status`)).json()) as { office: { office: { type: string } } | null }).office));
        return offices.every((o) => o?.office.type === 'wifi');
      },
      { timeoutMs: 15_000, intervalMs: 100, description: "every agent's /status showing its wifi office" },
    );
    // Far under the scan interval (5 minutes by default): the topology.changed event, not a scan, told them.
    console.log(`[measure] office policy at every agent ${((performance.now() - uploadedAt) / 1000).toFixed(2)} s after the upload`);

    const data = randomBytes(MB);
    const pkg = await api.ok('POST', '/v1/packages', { name: 'mc-wifi-package', version: '1', platform: 'linux', installCommand: '/bin/true' });
    assert.equal((await api.upload(pkg.id, new Blob([data]).stream(), { 'x-content-sha256': createHash('sha256').update(data).digest('hex') })).status, 200);
    const profile = await api.ok('POST', '/v1/profiles', { name: 'multicast in a wifi office', useMulticast: true, sessionStartDelaySeconds: 3 });
    const task = await api.ok('POST', '/v1/tasks', { packageId: pkg.id, action: 'cache-only', targets: { deviceIds: DEVICES }, profileId: profile.id });
    const summary = await waitFor(async () => {
      const s = await api.ok('GET', `/v1/tasks/${task.id}/summary`);
      return s.counts.succeeded === DEVICES.length ? s : null;
    }, { timeoutMs: 60_000, intervalMs: 250, description: 'every device done' });
    assert.equal(summary.bytes.multicast, 0, 'no multicast in a wifi office');
    assert.equal(summary.bytes.origin, DEVICES.length * MB);
    const issues = summary.subnets[0].lan.issues as Array<{ code: string; devices: number; message: string }>;
    assert.deepEqual(issues.map((i) => [i.code, i.devices]), [['LAN.OFFICE_POLICY', DEVICES.length]]);
    assert.match(issues[0]!.message, /office hq \(wifi\) takes no part in multicast sessions/);
  });
});
