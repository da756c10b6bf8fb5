import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeviceTask, Task, TaskSummary } from '@fleetcast/contracts';
import { explainDevice, initialTaskView, lanSessionRows, officeRows, progressOf, reduceTaskView, sortDevices, sourceShares, TaskSnapshot } from './task-view';

const counts = (over: Partial<TaskSummary['counts']> = {}): TaskSummary['counts'] => ({
  pending: 0,
  queued: 0,
  downloading: 0,
  cached: 0,
  installing: 0,
  succeeded: 0,
  failed: 0,
  cancelled: 0,
  ...over,
});

const summary = (over: Partial<TaskSummary> = {}): TaskSummary => ({
  taskId: 't1',
  total: 3,
  counts: counts({ downloading: 2, succeeded: 1 }),
  bytes: { origin: 100, parent: 0, multicast: 200, peer: 0 },
  subnets: [],
  ...over,
});

const task = (s: TaskSummary): Task => ({
  id: 't1',
  name: 'rollout',
  packageId: 'p1',
  action: 'install',
  status: 'active',
  profileId: null,
  startAt: '2026-12-03T08:00:00Z',
  createdAt: '2026-12-03T08:00:00Z',
  summary: s,
});

const device = (deviceId: string, state: DeviceTask['state'], reason: DeviceTask['reason'] = null): DeviceTask => ({
  taskId: 't1',
  deviceId,
  subnet: '10.0.0.0/24',
  state,
  reason,
  bytes: { origin: 0, parent: 0, multicast: 0, peer: 0 },
  hashVerified: false,
  exitCode: null,
  outputTail: null,
  updatedAt: '2026-12-03T08:00:01Z',
});

const snapshot = (s: TaskSummary, devices: DeviceTask[] = []): TaskSnapshot => ({ task: task(s), devices, devicesTotal: devices.length });

test('a snapshot makes the page live; all devices final makes it settled', () => {
  const live = reduceTaskView(initialTaskView, { type: 'snapshot', snapshot: snapshot(summary()), at: 1000 });
  assert.equal(live.status, 'live');
  assert.equal(live.updatedAt, 1000);
  const settled = reduceTaskView(live, { type: 'snapshot', snapshot: snapshot(summary({ counts: counts({ succeeded: 2, failed: 1 }) })), at: 2000 });
  assert.equal(settled.status, 'settled');
  // A task with no devices yet is not settled.
  assert.equal(reduceTaskView(initialTaskView, { type: 'snapshot', snapshot: snapshot(summary({ total: 0, counts: counts() })), at: 1 }).status, 'live');
});

test('an older snapshot than the one shown is dropped', () => {
  const newer = reduceTaskView(initialTaskView, { type: 'snapshot', snapshot: snapshot(summary({ counts: counts({ succeeded: 3 }) })), at: 2000 });
  const after = reduceTaskView(newer, { type: 'snapshot', snapshot: snapshot(summary()), at: 1500 });
  assert.equal(after, newer);
});

test('an error keeps the data shown and counts failures; a good update clears it', () => {
  const failedFirst = reduceTaskView(initialTaskView, { type: 'error', message: 'COMMON.UNAVAILABLE', at: 1 });
  assert.equal(failedFirst.status, 'error');
  const live = reduceTaskView(initialTaskView, { type: 'snapshot', snapshot: snapshot(summary()), at: 1000 });
  const once = reduceTaskView(live, { type: 'error', message: 'network down', at: 1100 });
  const twice = reduceTaskView(once, { type: 'error', message: 'network down', at: 1200 });
  assert.equal(twice.status, 'live');
  assert.equal(twice.snapshot, live.snapshot);
  assert.equal(twice.failures, 2);
  assert.equal(twice.error, 'network down');
  const again = reduceTaskView(twice, { type: 'snapshot', snapshot: snapshot(summary()), at: 1300 });
  assert.equal(again.error, null);
  assert.equal(again.failures, 0);
});

test('progress counts final devices', () => {
  assert.deepEqual(progressOf(summary({ total: 4, counts: counts({ succeeded: 2, failed: 1, downloading: 1 }) })), {
    total: 4,
    succeeded: 2,
    failed: 1,
    inFlight: 1,
    percentDone: 75,
  });
  assert.equal(progressOf(summary({ total: 0, counts: counts() })).percentDone, 0);
});

test('a device is explained by its reason, else its exit code, else its state', () => {
  assert.equal(explainDevice(device('d', 'queued', { code: 'CACHE.NO_SPACE', message: 'needs 20 MB' })), 'CACHE.NO_SPACE: needs 20 MB');
  assert.equal(explainDevice({ ...device('d', 'failed'), exitCode: 3 }), 'the installer exited with 3');
  assert.match(explainDevice(device('d', 'pending')), /offline device gets it when it reconnects/);
  assert.equal(explainDevice(device('d', 'succeeded')), 'done');
});

test('devices needing attention come first', () => {
  const sorted = sortDevices([device('b', 'succeeded'), device('a', 'succeeded'), device('c', 'failed'), device('d', 'pending'), device('e', 'downloading')]);
  assert.deepEqual(
    sorted.map((d) => d.deviceId),
    ['c', 'd', 'e', 'a', 'b'],
  );
});

test('bytes by source with their shares', () => {
  assert.deepEqual(
    sourceShares({ origin: 100, parent: 100, multicast: 200, peer: 100 }).map((s) => [s.source, s.bytes, s.percent]),
    [
      ['origin', 100, 20],
      ['parent', 100, 20],
      ['multicast', 200, 40],
      ['peer', 100, 20],
    ],
  );
  assert.deepEqual(
    sourceShares({ origin: 0, parent: 0, multicast: 0, peer: 0 }).map((s) => s.percent),
    [0, 0, 0, 0],
  );
  // An older gateway's summary has no parent bytes.
  assert.deepEqual(
    sourceShares({ origin: 100, multicast: 300, peer: 0 } as TaskSummary['bytes']).map((s) => [s.source, s.bytes, s.percent]),
    [
      ['origin', 100, 25],
      ['parent', 0, 0],
      ['multicast', 300, 75],
      ['peer', 0, 0],
    ],
  );
});

test('office rows: WAN bytes and bytes saved per office; none when no office is known', () => {
  const bytes = { origin: 0, parent: 0, multicast: 0, peer: 0 };
  const rows = officeRows(
    summary({
      offices: [
        { officeId: 'east', name: 'East branch', devices: 3, bytes, wanBytes: 100, savedBytes: 300 },
        { officeId: 'hq', name: 'hq', devices: 1, bytes, wanBytes: 0, savedBytes: 0 },
        { officeId: null, name: null, devices: 2, bytes, wanBytes: 50, savedBytes: 0 },
      ],
    }),
  );
  assert.deepEqual(
    rows.map((r) => [r.officeId, r.label, r.devices, r.wanBytes, r.savedBytes, r.savedPercent]),
    [
      ['east', 'East branch (east)', 3, 100, 300, 75],
      ['hq', 'hq', 1, 0, 0, 0],
      [null, 'No office known', 2, 50, 0, 0],
    ],
  );
  assert.deepEqual(officeRows(summary({ offices: [{ officeId: null, name: null, devices: 3, bytes, wanBytes: 9, savedBytes: 0 }] })), []);
  assert.deepEqual(officeRows(summary()), []);
});

test('LAN session rows: the summary per subnet; a subnet without a report had no session', () => {
  const rows = lanSessionRows(
    summary({
      subnets: [
        {
          subnet: '10.2.0.0/24',
          total: 2,
          counts: counts({ succeeded: 2 }),
          bytes: { origin: 10, parent: 0, multicast: 10, peer: 0 },
          lan: { representative: 'dev-a', sessionStartedAt: '2026-12-03T08:00:05Z', lanBytesSent: 4096, repairs: 2, invalidPackets: 0, issues: [{ code: 'LAN.MULTICAST_UNAVAILABLE', message: 'no group', devices: 1 }] },
        },
        { subnet: '10.1.0.0/24', total: 1, counts: counts({ downloading: 1 }), bytes: { origin: 0, parent: 0, multicast: 0, peer: 0 } },
      ],
    }),
  );
  assert.deepEqual(
    rows.map((r) => [r.subnet, r.representative, r.lanBytesSent, r.repairs, r.issues.length, r.hadSession]),
    [
      ['10.1.0.0/24', null, 0, 0, 0, false],
      ['10.2.0.0/24', 'dev-a', 4096, 2, 1, true],
    ],
  );
});
