import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, IncomingMessage } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { AckPolicy, connect, DeliverPolicy, NatsConnection } from 'nats';
import { createUser } from 'nkeys.js';
import { ActivationCompleted, InventoryScanSubmitted, Streams } from '@fleetcast/contracts';
import { ApiClient, ControlPlane, createTestDatabase, NatsServer, startControlPlane, startNatsServer, stopAll, TestDatabase, waitFor } from '@fleetcast/testing';
import { verifyWebhook, WEBHOOK_SIGNATURE_HEADER } from '@fleetcast/webhook-signature';

/**
 * Activation on the whole control plane as processes: the licensing service runs it against the
 * topology, tasks and origin services. Killed half-way (the licensing service while the topology
 * service is down), it resumes where it was and duplicates nothing.
 */
const TOKEN = `e2e-${randomBytes(8).toString('hex')}`;

let nats: NatsServer;
let db: TestDatabase;
let work: string;
let cp: ControlPlane;
let api: ApiClient;
let nc: NatsConnection;

/** Events of one subject in a stream, read from the start with a throwaway consumer. */
async function eventsOf(subject: string, stream: string): Promise<unknown[]> {
  const jsm = await nc.jetstreamManager();
  const name = `read-${randomBytes(4).toString('hex')}`;
  await jsm.consumers.add(stream, { name, filter_subject: subject, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 10e9 });
  const consumer = await nc.jetstream().consumers.get(stream, name);
  const pending = (await consumer.info()).num_pending;
  const out: unknown[] = [];
  if (pending > 0) for await (const m of await consumer.fetch({ max_messages: pending, expires: 5_000 })) out.push(JSON.parse(new TextDecoder().decode(m.data)));
  await jsm.consumers.delete(stream, name);
  return out;
}

async function readyPackage(name: string): Promise<{ id: string; contentId: string }> {
  const data = randomBytes(64 * 1024);
  const pkg = await api.ok('POST', '/v1/packages', { name, version: '1.0.0', platform: 'linux', installCommand: '/bin/true', installArgs: [], timeoutSeconds: 60 });
  const uploaded = await api.upload(pkg.id, Readable.from([data]), { 'x-content-sha256': createHash('sha256').update(data).digest('hex') });
  assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
  return { id: pkg.id, contentId: uploaded.body.contentId };
}

async function enroll(deviceId: string, token: string): Promise<void> {
  const res = await fetch(`${cp.gatewayUrl}/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // A user public key (an nkey) as an agent makes it; this test never connects with the credentials.
    body: JSON.stringify({ token, deviceId, publicKey: createUser().getPublicKey(), hostname: deviceId, platform: 'linux', agentVersion: '0.1.0' }),
  });
  assert.equal(res.status, 201, await res.text());
}

describe('activation: resumable and idempotent', () => {
  before(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase('e2e_activation');
    work = await mkdtemp(join(tmpdir(), 'fleetcast-e2e-activation-'));
    cp = await startControlPlane({
      natsUrl: nats.url,
      trustDir: nats.trust?.dir,
      databaseUrl: db.url,
      workDir: join(work, 'control-plane'),
      apiToken: TOKEN,
      logLevel: 'info',
      // A short lease: the activation of a killed instance is taken up within seconds.
      env: { licensing: { ACTIVATION_POLL_MS: '200', ACTIVATION_LEASE_MS: '2000' } },
    });
    api = new ApiClient(cp.gatewayUrl, TOKEN);
    nc = await connect(nats.adminConnectOptions());
  });

  after(async () => {
    await nc?.close();
    await stopAll();
    await db?.drop();
    if (work && !process.env.FLEETCAST_KEEP_TEST_FILES) await rm(work, { recursive: true, force: true });
  });

  test('killed half-way, a second run completes it: one topology generated, devices marked once, content checked, one activation.completed', async () => {
    // The fleet as it stands: two enrolled devices that scanned, three packages (one whose content the origin lost, one never uploaded).
    const { token } = await api.ok('POST', '/v1/enrollment-tokens', { name: 'activation test', maxUses: 5 });
    for (const id of ['act-1', 'act-2']) {
      await enroll(id, token);
      const scan = {
        deviceId: id, scanSeq: 1, scannedAt: new Date().toISOString(), hostname: id, platform: 'linux', osVersion: '6.1', agentVersion: '0.1.0',
        interfaces: [{ name: 'eth0', mac: null, gateway: '10.5.0.1', addresses: [{ family: 'ipv4', address: id === 'act-1' ? '10.5.0.21' : '10.5.0.22', prefixLength: 24 }] }],
        cache: { contentIds: [], freeBytes: 1e10 },
      };
      await nc.jetstream().publish(InventoryScanSubmitted.subject(id), new TextEncoder().encode(JSON.stringify(scan)));
    }
    await waitFor(async () => (await api.ok('GET', '/v1/devices')).total === 2, { timeoutMs: 20_000, description: 'the inventory knows both devices' });
    const available = await readyPackage('act-available');
    const lost = await readyPackage('act-lost');
    await rm(join(work, 'control-plane', 'origin-store', 'sha256', lost.contentId.slice(0, 2), lost.contentId));
    await rm(join(work, 'control-plane', 'origin-store', 'sha256', lost.contentId.slice(0, 2), `${lost.contentId}.blocks`));
    const empty = await api.ok('POST', '/v1/packages', { name: 'act-empty', version: '1.0.0', platform: 'linux', installCommand: '/bin/true', installArgs: [], timeoutSeconds: 60 });

    // An external system hears of the activation.
    const hooks: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        hooks.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const { secret } = await api.ok('POST', '/v1/webhooks', { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`, events: ['activation.completed'] });

    // The topology service is down: the activation passes the license step and waits at the topology step.
    await cp.processes.topology.kill();
    const started = await api.ok('POST', '/v1/activation', { originAddresses: ['10.5.0.10'] });
    assert.equal(started.state, 'running');
    assert.equal((await api.ok('POST', '/v1/activation', { originAddresses: ['10.5.0.10'] })).id, started.id, 'starting again returns the running one');
    const waiting = await waitFor(async () => {
      const a = await api.ok('GET', `/v1/activation/${started.id}`);
      return a.steps[1].detail?.startsWith('waiting') ? a : null;
    }, { timeoutMs: 20_000, description: 'the activation waiting at the topology step' });
    assert.equal(waiting.steps[0].state, 'done');
    const licenseDoneAt = waiting.steps[0].finishedAt;

    // Killed half-way; everything comes back.
    await cp.processes.licensing.kill();
    await cp.start('topology');
    await cp.start('licensing');
    const done = await waitFor(async () => {
      const a = await api.ok('GET', '/v1/activation');
      return a.state !== 'running' ? a : null;
    }, { timeoutMs: 60_000, description: 'the activation completed after the restart' });
    assert.equal(done.id, started.id);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.equal(done.steps[0].finishedAt, licenseDoneAt, 'the license step was not done again');
    assert.deepEqual(done.steps.map((s: { state: string }) => s.state), ['done', 'done', 'done', 'done']);
    assert.equal(done.steps[2].done, 3);
    assert.equal(done.steps[2].total, 3);
    const result = done.result;
    assert.equal(result.topologyGenerated, true);
    assert.deepEqual(result.packages, { checked: 3, available: 1, withoutContent: 1, missingCount: 1, missing: [lost.id] });
    assert.equal(result.devicesActivated, 2);
    assert.equal(result.devicesActive, 2);
    assert.ok(available.id && empty.id);
    const versions = await api.ok('GET', '/v1/topology/versions');
    assert.equal(versions.total, 1, 'one topology generated');

    // The event left once, and the webhook got it signed.
    await waitFor(async () => (await eventsOf(ActivationCompleted.subject(), Streams.licensingEvents.name)).length >= 1, { timeoutMs: 10_000, description: 'activation.completed published' });
    const events = (await eventsOf(ActivationCompleted.subject(), Streams.licensingEvents.name)) as Array<{ activationId: string }>;
    assert.deepEqual(events.map((e) => e.activationId), [started.id]);
    const hook = await waitFor(() => hooks.find((h) => h.body.includes(started.id)), { timeoutMs: 20_000, description: 'the activation.completed webhook' });
    assert.ok(verifyWebhook({ secret, header: hook.headers[WEBHOOK_SIGNATURE_HEADER], body: hook.body }).ok);

    // Run again: it completes and duplicates nothing.
    const again = await api.ok('POST', '/v1/activation', {});
    assert.notEqual(again.id, started.id);
    const second = await waitFor(async () => {
      const a = await api.ok('GET', `/v1/activation/${again.id}`);
      return a.state !== 'running' ? a : null;
    }, { timeoutMs: 30_000, description: 'the second activation finished' });
    assert.equal(second.state, 'completed', JSON.stringify(second));
    assert.equal(second.result.topologyGenerated, false);
    assert.equal(second.result.topologyVersion, result.topologyVersion);
    assert.equal(second.result.devicesActivated, 0, 'devices are marked once');
    assert.equal(second.result.devicesActive, 2);
    assert.equal((await api.ok('GET', '/v1/topology/versions')).total, 1, 'no second topology');
    receiver.close();
  });
});
