import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { AckPolicy, connect, DeliverPolicy, JsMsg, NatsConnection } from 'nats';
import { ErrorCode, FleetcastError, Streams, TaskAssignedV2, TasksRpc } from '@fleetcast/contracts';
import {
  assignmentFromWire,
  endorsementFromWire,
  fromWire,
  manifestHash,
  publicKeyFromDer,
  verifyAssignmentSignature,
  verifyEndorsement,
  verifyManifestSignature,
} from '@fleetcast/content';
import { RpcClient } from '@fleetcast/nats';
import {
  createTestDatabase,
  freePort,
  NatsServer,
  NodeProcess,
  provisionDeviceCreds,
  spawnNodeProcess,
  startAgentProcess,
  startNatsServer,
  stopAll,
  TestDatabase,
  waitFor,
} from '@fleetcast/testing';
import { OriginStub } from './origin-stub';

/**
 * Signed assignments and key rotation, end to end through the tasks service: what it publishes
 * verifies with its public key, and after a rotation a real agent pinned only to the old key
 * accepts the new key's assignments through the endorsement, then drops the old key once it is
 * retired. The tasks service runs as a process on real NATS and Postgres; the agents are the real
 * agent's processes, downloading from a small content server here.
 */
const MAIN = join(__dirname, '..', 'src', 'main.js');
const DAY = 24 * 3600 * 1000;

let nats: NatsServer;
let db: TestDatabase;
let nc: NatsConnection;
let rpc: RpcClient;
let work: string;
let origin: OriginStub;

async function readAssignments(deviceId: string): Promise<TaskAssignedV2[]> {
  const jsm = await nc.jetstreamManager();
  const name = `t${randomBytes(6).toString('hex')}`;
  await jsm.consumers.add(Streams.taskAssignments.name, { name, filter_subject: TaskAssignedV2.subject(deviceId), ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 10e9 });
  const consumer = await nc.jetstream().consumers.get(Streams.taskAssignments.name, name);
  const pending = (await consumer.info()).num_pending;
  const out: JsMsg[] = [];
  if (pending > 0) for await (const m of await consumer.fetch({ max_messages: pending, expires: 5000 })) out.push(m);
  await jsm.consumers.delete(Streams.taskAssignments.name, name);
  return out.map((m) => JSON.parse(Buffer.from(m.data).toString()));
}

async function assignmentOf(taskId: string, deviceId: string): Promise<TaskAssignedV2> {
  return waitFor(async () => (await readAssignments(deviceId)).find((a) => a.assignment.document.taskId === taskId), {
    timeoutMs: 10_000,
    description: `the assignment of ${taskId} to ${deviceId}`,
  });
}

async function readyPackage(name: string) {
  const bytes = randomBytes(200 * 1024 + 3);
  const pkg = await rpc.call(TasksRpc.createPackage, { name, version: '1.0.0', platform: 'linux', installCommand: '/bin/true' });
  const stored = origin.add(bytes);
  await rpc.call(TasksRpc.attachContent, { packageId: pkg.id, contentId: stored.contentId });
  return { pkg, manifest: { ...stored, blockHashes: stored.blockHashBytes } };
}

async function agentPinnedTo(deviceId: string, publicKeyDer: string): Promise<{ proc: NodeProcess; dir: string }> {
  const dir = join(work, deviceId);
  const creds = nats.trust ? ['--nats-creds', await provisionDeviceCreds(nats.trust.dir, deviceId, join(dir, 'provisioned'))] : [];
  const proc = await startAgentProcess({ natsUrl: nats.url, deviceId, dir, args: ['--no-multicast', '--control-plane-key', publicKeyDer, ...creds] });
  await proc.waitForOutput(/agent ready/, { timeoutMs: 30_000 });
  return { proc, dir };
}

const pinnedIn = async (dir: string) => JSON.parse(await readFile(join(dir, 'state', 'control-plane-keys.json'), 'utf8')) as { keys: Array<{ keyId: string }>; retiredKeyIds?: string[] };

async function succeeded(taskId: string, deviceId: string) {
  return waitFor(
    async () => {
      const row = (await rpc.call(TasksRpc.listTaskDevices, { id: taskId })).items.find((d) => d.deviceId === deviceId);
      if (row?.state === 'failed') throw new Error(`${deviceId} failed ${taskId}: ${JSON.stringify(row.reason)}`);
      return row?.state === 'succeeded' ? row : null;
    },
    { timeoutMs: 30_000, intervalMs: 100, description: `${deviceId} succeeded ${taskId}` },
  );
}

describe('signed assignments and signing key rotation (tasks service and real agents)', () => {
  before(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase('tasks_keys');
    work = await mkdtemp(join(tmpdir(), 'fleetcast-signing-keys-'));
    origin = await new OriginStub().start();
    const port = await freePort();
    const proc = await spawnNodeProcess(MAIN, {
      name: 'tasks',
      env: {
        NATS_URL: nats.url,
        ...(nats.trust ? { NATS_CREDS_FILE: nats.trust.credsFile('tasks') } : {}),
        DATABASE_URL: db.url,
        HTTP_PORT: String(port),
        ORIGIN_PUBLIC_URL: origin.url,
        SCHEDULER_INTERVAL_MS: '100',
        LOG_LEVEL: 'warn',
      },
    });
    await waitFor(() => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false), { timeoutMs: 30_000, description: `${proc.describe()} ready` });
    nc = await connect(nats.adminConnectOptions());
    rpc = new RpcClient(nc);
  });

  after(async () => {
    await nc?.close();
    await stopAll();
    await db?.drop();
    await origin?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the published assignment is signed for its device and verifies with the service public key', async () => {
    const { pkg, manifest } = await readyPackage('signed-tool');
    const task = await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'install', targets: { deviceIds: ['sig-a', 'sig-b'] } });
    const key = await rpc.call(TasksRpc.getSigningKey, {});
    const publicKey = publicKeyFromDer(Buffer.from(key.publicKeyDer, 'base64'));
    assert.deepEqual(await rpc.call(TasksRpc.getSigningKeys, {}), { keys: [key] });
    for (const deviceId of ['sig-a', 'sig-b']) {
      const message = await assignmentOf(task.id, deviceId);
      const doc = message.assignment.document;
      assert.ok(verifyAssignmentSignature(assignmentFromWire(message.assignment), publicKey), `${deviceId}: the signature verifies`);
      assert.equal(message.assignment.keyId, key.keyId);
      assert.equal(doc.deviceId, deviceId);
      assert.deepEqual([doc.package.installCommand, doc.package.installArgs, doc.package.successExitCodes], ['/bin/true', [], [0]]);
      assert.equal(doc.package.manifestHash, manifestHash(manifest));
      assert.equal(Date.parse(doc.notBefore), Date.parse(task.startAt));
      assert.equal(Date.parse(doc.expiresAt) - Date.parse(doc.notBefore), 30 * DAY, 'valid for the stream retention from the start');
      assert.deepEqual([message.endorsements, doc.retiredKeyIds], [[], []]);
      // Changing what runs breaks the signature.
      const altered = assignmentFromWire({ ...message.assignment, document: { ...doc, package: { ...doc.package, installCommand: '/bin/sh' } } });
      assert.equal(verifyAssignmentSignature(altered, publicKey), false);
    }
  });

  test('rotation: new key signs, an agent pinned to the old key follows the endorsement; retirement re-signs manifests and agents drop the old key', async () => {
    const key1 = await rpc.call(TasksRpc.getSigningKey, {});
    const key1Public = publicKeyFromDer(Buffer.from(key1.publicKeyDer, 'base64'));
    const before = await readyPackage('before-rotation');
    const early = await agentPinnedTo('rot-early', key1.publicKeyDer);

    // Before the rotation: signed by the only key.
    const t1 = await rpc.call(TasksRpc.createTask, { packageId: before.pkg.id, action: 'cache-only', targets: { deviceIds: ['rot-early'] } });
    await succeeded(t1.id, 'rot-early');

    // Rotate: a new active key, the old one retiring (both pinnable during the overlap).
    const rotated = (await rpc.call(TasksRpc.rotateSigningKey, {})).items;
    const active = rotated.find((k) => k.state === 'active')!;
    assert.notEqual(active.keyId, key1.keyId);
    assert.equal(active.endorsedBy, key1.keyId);
    assert.equal(rotated.find((k) => k.keyId === key1.keyId)?.state, 'retiring');
    assert.deepEqual((await rpc.call(TasksRpc.getSigningKeys, {})).keys.map((k) => k.keyId), [active.keyId, key1.keyId]);
    assert.equal((await rpc.call(TasksRpc.getSigningKey, {})).keyId, active.keyId, 'the existing query answers the active key');
    const key2Public = publicKeyFromDer(Buffer.from(active.publicKeyDer, 'base64'));

    // After it: assignments are signed by the new key and carry its endorsement by the old one.
    const after = await readyPackage('after-rotation');
    assert.equal(fromWire(await rpc.call(TasksRpc.getManifest, { contentId: after.manifest.contentId })).keyId, active.keyId, 'new manifests: the new key');
    const t2 = await rpc.call(TasksRpc.createTask, { packageId: after.pkg.id, action: 'cache-only', targets: { deviceIds: ['rot-early'] } });
    const m2 = await assignmentOf(t2.id, 'rot-early');
    assert.equal(m2.assignment.keyId, active.keyId);
    assert.ok(verifyAssignmentSignature(assignmentFromWire(m2.assignment), key2Public));
    assert.equal(verifyAssignmentSignature(assignmentFromWire(m2.assignment), key1Public), false);
    assert.deepEqual(m2.endorsements.map((e) => [e.endorsedBy, e.keyId]), [[key1.keyId, active.keyId]]);
    assert.ok(verifyEndorsement(endorsementFromWire(m2.endorsements[0]!), key1Public));
    // The agent pinned only to the old key accepts it through the endorsement, and pins the new key.
    await succeeded(t2.id, 'rot-early');
    assert.deepEqual((await pinnedIn(early.dir)).keys.map((k) => k.keyId), [key1.keyId, active.keyId]);

    // The active key cannot be retired; an unknown one is not found.
    await assert.rejects(rpc.call(TasksRpc.retireSigningKey, { keyId: active.keyId }), (e: FleetcastError) => e.code === ErrorCode.SigningKeyNotRetiring);
    await assert.rejects(rpc.call(TasksRpc.retireSigningKey, { keyId: 'nope' }), (e: FleetcastError) => e.code === ErrorCode.SigningKeyNotFound);

    // Retire the old key: what it signed is signed again with the new one; it is pinnable no more.
    const retired = (await rpc.call(TasksRpc.retireSigningKey, { keyId: key1.keyId })).items;
    assert.equal(retired.find((k) => k.keyId === key1.keyId)?.state, 'retired');
    assert.deepEqual((await rpc.call(TasksRpc.getSigningKeys, {})).keys.map((k) => k.keyId), [active.keyId]);
    const resigned = fromWire(await rpc.call(TasksRpc.getManifest, { contentId: before.manifest.contentId }));
    assert.equal(resigned.keyId, active.keyId);
    assert.ok(verifyManifestSignature(resigned, key2Public));

    // The next assignment names the old key as retired: the agent drops it.
    const t3 = await rpc.call(TasksRpc.createTask, { packageId: before.pkg.id, action: 'cache-only', targets: { deviceIds: ['rot-early', 'rot-late'] } });
    const m3 = await assignmentOf(t3.id, 'rot-early');
    assert.deepEqual(m3.assignment.document.retiredKeyIds, [key1.keyId]);
    await succeeded(t3.id, 'rot-early');
    assert.deepEqual(await pinnedIn(early.dir), { keys: [{ keyId: active.keyId, publicKeyDer: active.publicKeyDer }], retiredKeyIds: [key1.keyId] });

    // A device that was off through the whole overlap, still pinned to the old key only, follows the
    // endorsement to the new key (and drops the old) when it comes back.
    const late = await agentPinnedTo('rot-late', key1.publicKeyDer);
    await succeeded(t3.id, 'rot-late');
    assert.deepEqual((await pinnedIn(late.dir)).keys.map((k) => k.keyId), [active.keyId]);
  });
});
