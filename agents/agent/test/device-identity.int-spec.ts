import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPORT_SEQ_MAX, SCAN_SEQ_MAX, TaskAssignedV1, deviceStatusV1Schema, idSchema, inventoryScanV1Schema } from '@fleetcast/contracts';
import { AgentErrorCode, InvalidIdError } from '../src/core/agent-errors';
import { reduceTaskLifecycle } from '../src/core/task-lifecycle';
import { AgentStateError, DeviceIdentityError, TaskStateStore, loadDeviceIdentity } from '../src/adapters/device-identity';
import { tempDir } from './support/content-fixture';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function stateDir(): Promise<string> {
  const { dir, remove } = await tempDir('state');
  cleanups.push(remove);
  return dir;
}

test('identity: generated once, valid as a subject token, the same on every later start', async () => {
  const dir = await stateDir();
  const first = await loadDeviceIdentity(dir, { now: () => new Date('2025-03-01T10:00:00Z') });
  assert.equal(first.source, 'generated');
  assert.ok(idSchema.safeParse(first.deviceId).success, first.deviceId);
  assert.equal(first.createdAt, '2025-03-01T10:00:00.000Z');
  const second = await loadDeviceIdentity(dir);
  assert.deepEqual(second, { ...first, source: 'stored' });
  const other = await loadDeviceIdentity(await stateDir());
  assert.notEqual(other.deviceId, first.deviceId, 'two devices never share an ID');
});

test('identity: an ID from configuration wins and is kept for starts without it', async () => {
  const dir = await stateDir();
  await loadDeviceIdentity(dir);
  const configured = await loadDeviceIdentity(dir, { deviceId: 'lab-agent-3' });
  assert.equal(configured.deviceId, 'lab-agent-3');
  assert.equal(configured.source, 'config');
  const later = await loadDeviceIdentity(dir);
  assert.equal(later.deviceId, 'lab-agent-3');
  assert.equal(later.source, 'stored');
});

test('identity: an ID that cannot be a subject token is refused', async () => {
  const dir = await stateDir();
  for (const bad of ['has.dot', 'a b', '>', '', 'x'.repeat(65)]) {
    await assert.rejects(loadDeviceIdentity(dir, { deviceId: bad }), (e: unknown) => e instanceof InvalidIdError && e.code === AgentErrorCode.InvalidId, bad);
  }
});

test('identity: a damaged identity file is an error, never silently replaced by a new device', async () => {
  for (const content of ['{not json', '{"deviceId":"has.dot","createdAt":"2025-01-01T00:00:00Z"}']) {
    const dir = await stateDir();
    await writeFile(join(dir, 'device.json'), content);
    await assert.rejects(loadDeviceIdentity(dir), (e: unknown) => e instanceof DeviceIdentityError && e.code === AgentErrorCode.IdentityUnreadable);
    assert.equal(await readFile(join(dir, 'device.json'), 'utf8'), content, 'left for a human to look at');
  }
});

test('seq: grows per task, and keeps growing across restarts', async () => {
  const dir = await stateDir();
  const store = await TaskStateStore.open(dir);
  assert.deepEqual([await store.nextSeq('task-a'), await store.nextSeq('task-a'), await store.nextSeq('task-b'), await store.nextSeq('task-a')], [1, 2, 1, 3]);
  const restarted = await TaskStateStore.open(dir);
  assert.equal(await restarted.nextSeq('task-a'), 4);
  assert.equal(await restarted.nextSeq('task-b'), 2);
});

test('seq: concurrent calls never hand out the same number', async () => {
  const store = await TaskStateStore.open(await stateDir());
  const seqs = await Promise.all(Array.from({ length: 25 }, () => store.nextSeq('task-c')));
  assert.deepEqual([...seqs].sort((a, b) => a - b), Array.from({ length: 25 }, (_, i) => i + 1));
});

test('seq: a damaged counter is an error rather than a restart at 1', async () => {
  const dir = await stateDir();
  const store = await TaskStateStore.open(dir);
  await store.nextSeq('task-d');
  await writeFile(join(dir, 'seq', 'task-d.json'), 'garbage');
  const restarted = await TaskStateStore.open(dir);
  await assert.rejects(restarted.nextSeq('task-d'), (e: unknown) => e instanceof AgentStateError && e.code === AgentErrorCode.StateUnreadable);
});

test('seq: a counter at the bound of the contract refuses to go past it instead of sending an invalid report', async () => {
  const dir = await stateDir();
  await TaskStateStore.open(dir);
  await writeFile(join(dir, 'seq', 'task-e.json'), JSON.stringify({ lastSeq: REPORT_SEQ_MAX - 1 }));
  const store = await TaskStateStore.open(dir);
  assert.equal(await store.nextSeq('task-e'), REPORT_SEQ_MAX);
  await assert.rejects(store.nextSeq('task-e'), (e: unknown) => e instanceof AgentStateError && /every report sequence number/.test(e.message));
});

test('scan seq: starts from the clock (above what earlier, clock-based agents sent), then counts up across restarts whatever the clock does', async () => {
  const dir = await stateDir();
  const T = Date.parse('2026-01-10T12:00:00Z');
  const store = await TaskStateStore.open(dir);
  assert.deepEqual(await store.nextScanSeq(T), { scanSeq: T, seededFromClock: 'missing' });
  assert.deepEqual(await store.nextScanSeq(T + 3_600_000), { scanSeq: T + 1, seededFromClock: null }, 'one more, not the clock');
  const restarted = await TaskStateStore.open(dir);
  // The clock set back a day: the sequence still grows.
  assert.deepEqual(await restarted.nextScanSeq(T - 86_400_000), { scanSeq: T + 2, seededFromClock: null });
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'scan-seq.json'), 'utf8')), { lastScanSeq: T + 2 });
  const seqs = await Promise.all(Array.from({ length: 10 }, () => restarted.nextScanSeq(T)));
  assert.deepEqual([...seqs.map((s) => s.scanSeq)].sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => T + 3 + i), 'concurrent scans never share a number');
  for (const scanSeq of seqs.map((s) => s.scanSeq)) assert.ok(inventoryScanV1Schema.shape.scanSeq.safeParse(scanSeq).success);
});

test('scan seq: a damaged counter file is replaced from the clock (above anything counted from an earlier clock) and said so', async () => {
  const dir = await stateDir();
  const T = Date.parse('2026-01-10T12:00:00Z');
  await (await TaskStateStore.open(dir)).nextScanSeq(T);
  await writeFile(join(dir, 'scan-seq.json'), '{"lastScanSeq": ');
  const restarted = await TaskStateStore.open(dir);
  assert.deepEqual(await restarted.nextScanSeq(T + 60_000), { scanSeq: T + 60_000, seededFromClock: 'unreadable' });
  // Past the contract's bound: not sent.
  await writeFile(join(dir, 'scan-seq.json'), JSON.stringify({ lastScanSeq: SCAN_SEQ_MAX }));
  const atBound = await TaskStateStore.open(dir);
  assert.deepEqual(await atBound.nextScanSeq(T), { scanSeq: T, seededFromClock: 'unreadable' }, 'a stored value at the bound cannot be counted on from: reseeded');
  assert.equal(inventoryScanV1Schema.shape.scanSeq.safeParse(SCAN_SEQ_MAX + 1).success, false);
  assert.equal(deviceStatusV1Schema.shape.seq.safeParse(REPORT_SEQ_MAX + 1).success, false);
});

function assignment(taskId: string): TaskAssignedV1 {
  return {
    taskId,
    deviceId: 'device-1',
    action: 'install',
    package: {
      packageId: 'pkg-1',
      name: 'demo',
      version: '1.0.0',
      platform: 'linux',
      contentId: 'c'.repeat(64),
      size: 100,
      downloadUrl: 'http://origin.test/content/' + 'c'.repeat(64),
      installCommand: '/bin/true',
      installArgs: ['{package}'],
      successExitCodes: [0],
      timeoutSeconds: 60,
    },
    settings: { profileId: 'default', useMulticast: false, sessionStartDelaySeconds: 60, peerDownloadAllowed: false, lanRateLimitKbps: null, cacheSizeLimitBytes: null },
    issuedAt: '2025-01-01T00:00:00.000Z',
  };
}

test('tasks: a task saved mid-download is found after a restart and resumes its download', async () => {
  const dir = await stateDir();
  const store = await TaskStateStore.open(dir);
  const task = assignment('task-e');
  let { state } = reduceTaskLifecycle(null, { type: 'assigned', task }, 1000);
  ({ state } = reduceTaskLifecycle(state, { type: 'download-progress', bytesBySource: { origin: 40 } }, 2000));
  await store.save({ task, lifecycle: state });

  const restarted = await TaskStateStore.open(dir);
  const { tasks, unreadable } = await restarted.list();
  assert.deepEqual(unreadable, []);
  assert.equal(tasks.length, 1);
  assert.deepEqual(tasks[0], { task, lifecycle: state });
  const resumed = reduceTaskLifecycle(tasks[0]!.lifecycle, { type: 'resumed-after-restart' }, 3000);
  assert.deepEqual(resumed.effects.map((e) => e.type), ['report', 'start-download']);
  assert.equal(resumed.state.bytes.origin, 40);
  assert.deepEqual(await restarted.get('task-e'), { task, lifecycle: state });
  assert.equal(await restarted.get('task-unknown'), null);
});

test('tasks: unreadable files are listed apart, the others still load; remove keeps the seq', async () => {
  const dir = await stateDir();
  const store = await TaskStateStore.open(dir);
  const task = assignment('task-f');
  const { state } = reduceTaskLifecycle(null, { type: 'assigned', task }, 1000);
  await store.save({ task, lifecycle: state });
  await writeFile(join(dir, 'tasks', 'task-g.json'), '{"task": 1}');
  const { tasks, unreadable } = await store.list();
  assert.deepEqual(tasks.map((t) => t.task.taskId), ['task-f']);
  assert.deepEqual(unreadable.map((u) => u.file), ['task-g.json']);

  await store.nextSeq('task-f');
  await store.remove('task-f');
  assert.equal(await store.get('task-f'), null);
  assert.deepEqual(await readdir(join(dir, 'seq')), ['task-f.json']);
  assert.equal(await store.nextSeq('task-f'), 2, 'a redelivered task reports after its old reports');
});

test('tasks: IDs that could escape the state directory are refused', async () => {
  const store = await TaskStateStore.open(await stateDir());
  for (const bad of ['../device', 'a/b', '..', 'a.json']) {
    await assert.rejects(store.nextSeq(bad), InvalidIdError, bad);
    await assert.rejects(store.get(bad), InvalidIdError, bad);
  }
  const task = assignment('task-h');
  const { state } = reduceTaskLifecycle(null, { type: 'assigned', task }, 1000);
  await assert.rejects(store.save({ task, lifecycle: { ...state, taskId: 'other' } }), InvalidIdError);
});
