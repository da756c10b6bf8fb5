import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { NatsConnection } from 'nats';
import { DeviceStatusReported, ErrorCode, FleetcastError, TaskAssignedV2, TasksDeviceRpc, TasksRpc } from '@fleetcast/contracts';
import { assignmentFromWire, blockCount, MANIFEST_BLOCK_SIZE, openBlock, sealedSize, verifyBlock, fromWire } from '@fleetcast/content';
import { encodeJson, RpcClient } from '@fleetcast/nats';
import { waitFor } from '@fleetcast/testing';
import { assignmentMessages, startTasksHarness, statusReport, TasksHarness } from './support/tasks-harness';

let h: TasksHarness;
let nc: NatsConnection;
let rpc: RpcClient;

/** The key that wraps content keys at rest in this test's service. */
const CONTENT_KEY_SECRET = randomBytes(32);
const MARKER = Buffer.from('FLEETCAST-CONFIDENTIAL-MARKER-7f3a;');

function markedContent(bytes: number): Buffer {
  return Buffer.concat(Array.from({ length: Math.ceil(bytes / MARKER.length) }, () => MARKER)).subarray(0, bytes);
}

/** Opens sealed content with a key as the agent does, block by block. */
function openAll(sealed: Buffer, key: Buffer, packageId: string): Buffer {
  const count = blockCount(sealed.length, MANIFEST_BLOCK_SIZE);
  return Buffer.concat(Array.from({ length: count }, (_, i) => openBlock(key, { packageId, blockIndex: i, blockCount: count }, sealed.subarray(i * MANIFEST_BLOCK_SIZE, (i + 1) * MANIFEST_BLOCK_SIZE))));
}

async function confidentialPackage(plain: Buffer) {
  const pkg = await rpc.call(TasksRpc.createPackage, { name: 'secret-tool', version: '1.0.0', platform: 'linux', installCommand: '/bin/true', confidential: true });
  assert.equal(pkg.confidential, true);
  const stored = h.origin.add(plain);
  const ready = await rpc.call(TasksRpc.attachContent, { packageId: pkg.id, contentId: stored.contentId });
  return { pkg: ready, plainId: stored.contentId };
}

describe('tasks service: confidential packages (real NATS, real Postgres, service as a process)', () => {
  before(async () => {
    h = await startTasksHarness('tasks_confidential', { env: { CONTENT_KEY_SECRET: CONTENT_KEY_SECRET.toString('base64'), ORIGIN_API_TOKEN: 'origin-token-for-tests' } });
    ({ nc, rpc } = h);
  });

  after(() => h?.stop());

  test('attach seals the content at the origin: the manifest is over the ciphertext, the plaintext is removed', async () => {
    const plain = markedContent(2 * MANIFEST_BLOCK_SIZE + 1234);
    const { pkg, plainId } = await confidentialPackage(plain);
    assert.equal(pkg.status, 'ready');
    assert.notEqual(pkg.contentId, plainId);
    assert.equal(pkg.size, sealedSize(plain.length));
    const seal = h.origin.seals.find((s) => s.packageId === pkg.id)!;
    assert.deepEqual({ contentId: seal.contentId, removeSource: seal.removeSource, authorization: seal.authorization }, { contentId: plainId, removeSource: true, authorization: 'Bearer origin-token-for-tests' });
    assert.equal(h.origin.has(plainId), false, 'the plaintext is gone from the origin');
    const sealed = h.origin.bytesOf(pkg.contentId!)!;
    assert.equal(sealed.indexOf(MARKER), -1, 'the stored content carries no plaintext');
    const manifest = fromWire(await rpc.call(TasksRpc.getManifest, { contentId: pkg.contentId! }));
    for (let b = 0; b < 3; b++) assert.ok(verifyBlock(manifest.value, b, sealed.subarray(b * MANIFEST_BLOCK_SIZE, (b + 1) * MANIFEST_BLOCK_SIZE)), `sealed block ${b} verifies`);
  });

  test('the key goes to a target of an install task not yet over, to nobody else; the assignment says confidential (signed)', async () => {
    const plain = markedContent(300_000);
    const { pkg } = await confidentialPackage(plain);
    const contentId = pkg.contentId!;
    const task = await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'install', targets: { deviceIds: ['cf-target'] } });

    const [assigned] = await waitFor(async () => {
      const msgs = await assignmentMessages(nc, TaskAssignedV2.subject('cf-target'));
      return msgs.length > 0 ? msgs : undefined;
    }, { timeoutMs: 10_000, description: 'assignment sent' });
    const wire = TaskAssignedV2.schema.parse(JSON.parse(Buffer.from(assigned!.data).toString()));
    assert.equal(assignmentFromWire(wire.assignment).value.package.confidential, true);

    const key = await rpc.callAsDevice(TasksDeviceRpc.getContentKey, 'cf-target', { contentId });
    assert.equal(key.packageId, pkg.id);
    assert.ok(openAll(h.origin.bytesOf(contentId)!, Buffer.from(key.key, 'base64'), key.packageId).equals(plain), 'the key opens the content');

    await assert.rejects(rpc.callAsDevice(TasksDeviceRpc.getContentKey, 'cf-bystander', { contentId }), (e: FleetcastError) => e.code === ErrorCode.NotATarget);

    // A device that has installed it needs the key no more.
    await nc.jetstream().publish(DeviceStatusReported.subject('cf-target'), encodeJson(statusReport(task.id, 'cf-target', 1, 'succeeded')));
    await waitFor(async () => (await rpc.call(TasksRpc.getTask, { id: task.id })).status === 'completed', { timeoutMs: 10_000, description: 'task completed' });
    await assert.rejects(rpc.callAsDevice(TasksDeviceRpc.getContentKey, 'cf-target', { contentId }), (e: FleetcastError) => e.code === ErrorCode.NotATarget);
  });

  test('a cache-only target gets no key; content that is not confidential has none', async () => {
    const { pkg } = await confidentialPackage(markedContent(1000));
    await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'cache-only', targets: { deviceIds: ['cf-cacher'] } });
    await assert.rejects(rpc.callAsDevice(TasksDeviceRpc.getContentKey, 'cf-cacher', { contentId: pkg.contentId! }), (e: FleetcastError) => e.code === ErrorCode.NotATarget);

    const open = await rpc.call(TasksRpc.createPackage, { name: 'open-tool', version: '1.0.0', platform: 'linux', installCommand: '/bin/true' });
    assert.equal(open.confidential, false);
    const stored = h.origin.add(randomBytes(1000));
    await rpc.call(TasksRpc.attachContent, { packageId: open.id, contentId: stored.contentId });
    assert.equal(h.origin.has(stored.contentId), true, 'content that is not confidential is left as it is');
    await rpc.call(TasksRpc.createTask, { packageId: open.id, action: 'install', targets: { deviceIds: ['cf-open'] } });
    await assert.rejects(rpc.callAsDevice(TasksDeviceRpc.getContentKey, 'cf-open', { contentId: stored.contentId }), (e: FleetcastError) => e.code === ErrorCode.NotConfidential);
  });

  test('the same bytes in a package that is not confidential stay at the origin; the key is stored wrapped', async () => {
    const shared = markedContent(5000);
    const open = await rpc.call(TasksRpc.createPackage, { name: 'open-twin', version: '1.0.0', platform: 'linux', installCommand: '/bin/true' });
    const stored = h.origin.add(shared);
    await rpc.call(TasksRpc.attachContent, { packageId: open.id, contentId: stored.contentId });
    const { pkg } = await confidentialPackage(shared);
    assert.equal(h.origin.seals.find((s) => s.packageId === pkg.id)!.removeSource, false);
    assert.equal(h.origin.has(stored.contentId), true);

    const db = new Client({ connectionString: h.db.url });
    await db.connect();
    try {
      const { rows } = await db.query<{ content_key: Buffer; content_key_wrapped: boolean }>(`SELECT content_key, content_key_wrapped FROM tasks.packages WHERE id = $1`, [pkg.id]);
      assert.equal(rows[0]!.content_key_wrapped, true);
      await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'install', targets: { deviceIds: ['cf-wrapped'] } });
      const key = Buffer.from((await rpc.callAsDevice(TasksDeviceRpc.getContentKey, 'cf-wrapped', { contentId: pkg.contentId! })).key, 'base64');
      assert.equal(rows[0]!.content_key.indexOf(key), -1, 'the database does not hold the key as it is');
    } finally {
      await db.end();
    }
  });
});
