import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceStatusV1, Package, taskAssignedV2Schema } from '@fleetcast/contracts';
import { assignmentDocument, assignmentWindow, buildAssignment, latestReports, summarize, summarizeOffices } from './task-model';

const report = (deviceId: string, seq: number, state: DeviceStatusV1['state']): DeviceStatusV1 => ({
  taskId: 't1',
  deviceId,
  seq,
  state,
  reportedAt: new Date(0).toISOString(),
  bytes: { origin: seq, parent: 0, multicast: 0, peer: 0 },
  reason: null,
  hashVerified: false,
  exitCode: null,
  outputTail: null,
});

test('latestReports keeps the highest seq per device, whatever the order', () => {
  const out = latestReports([report('a', 2, 'downloading'), report('a', 5, 'succeeded'), report('a', 3, 'cached'), report('b', 1, 'queued')]);
  assert.deepEqual(
    out.map((r) => [r.deviceId, r.seq, r.state]).sort(),
    [
      ['a', 5, 'succeeded'],
      ['b', 1, 'queued'],
    ],
  );
});

test('summarize adds counts and bytes overall and per subnet; null subnet is "unknown"', () => {
  const s = summarize('t1', [
    { subnet: '10.0.1.0/24', state: 'succeeded', devices: 2, origin: 100, parent: 40, multicast: 50, peer: 0, lanBytesSent: 70, repairs: 3, invalidPackets: 0 },
    { subnet: '10.0.1.0/24', state: 'failed', devices: 1, origin: 10, parent: 0, multicast: 0, peer: 5, lanBytesSent: 0, repairs: 1, invalidPackets: 4 },
    { subnet: null, state: 'pending', devices: 3, origin: 0, parent: 0, multicast: 0, peer: 0, lanBytesSent: 0, repairs: 0, invalidPackets: 0 },
  ], [{ subnet: '10.0.1.0/24', deviceId: 'rep-1', sessionStartedAt: '2026-01-01T00:00:00.000Z' }], [
    { subnet: '10.0.1.0/24', code: 'LAN.SESSION_INCOMPLETE', message: 'closed 3 blocks short', devices: 1 },
    { subnet: null, code: 'LAN.NOBODY_JOINED', message: 'nobody joined', devices: 2 },
  ]);
  assert.equal(s.total, 6);
  assert.deepEqual(s.subnets[0].lan, {
    representative: 'rep-1',
    sessionStartedAt: '2026-01-01T00:00:00.000Z',
    lanBytesSent: 70,
    repairs: 4,
    invalidPackets: 4,
    issues: [{ code: 'LAN.SESSION_INCOMPLETE', message: 'closed 3 blocks short', devices: 1 }],
  });
  assert.equal(s.subnets[1].lan?.representative, null);
  assert.deepEqual(s.subnets[1].lan?.issues, [{ code: 'LAN.NOBODY_JOINED', message: 'nobody joined', devices: 2 }]);
  assert.equal(s.counts.succeeded, 2);
  assert.equal(s.counts.failed, 1);
  assert.equal(s.counts.pending, 3);
  assert.equal(s.counts.installing, 0);
  assert.deepEqual(s.bytes, { origin: 110, parent: 40, multicast: 50, peer: 5 });
  assert.deepEqual(s.subnets[0].bytes, { origin: 110, parent: 40, multicast: 50, peer: 5 });
  assert.deepEqual(
    s.subnets.map((x) => [x.subnet, x.total]),
    [
      ['10.0.1.0/24', 3],
      ['unknown', 3],
    ],
  );
});

const pkg: Package = {
  id: 'p1', name: 'n', version: '1', platform: 'linux', installCommand: '/bin/true', installArgs: ['-x'], successExitCodes: [0],
  timeoutSeconds: 60, status: 'ready', contentId: 'a'.repeat(64), size: 10, createdAt: '',
};
const settings = { profileId: 'default', useMulticast: true, sessionStartDelaySeconds: 60, peerDownloadAllowed: true, lanRateLimitKbps: null, cacheSizeLimitBytes: null };
const DAY = 24 * 3600 * 1000;

test('assignmentWindow: from the task start for the validity, the same for every resend; a start in the past counts from creation', () => {
  const createdAt = new Date('2026-03-01T00:00:00Z');
  const scheduled = { startAt: new Date('2026-03-05T08:00:00Z'), createdAt };
  assert.deepEqual(assignmentWindow(scheduled, 30 * DAY), { notBefore: scheduled.startAt, expiresAt: new Date('2026-04-04T08:00:00Z') });
  const backdated = { startAt: new Date('2026-01-01T00:00:00Z'), createdAt };
  assert.deepEqual(assignmentWindow(backdated, 30 * DAY), { notBefore: createdAt, expiresAt: new Date('2026-03-31T00:00:00Z') });
});

test('assignmentDocument carries what the device runs; buildAssignment adds the unsigned rest and points at the content address', () => {
  const window = { notBefore: new Date(0), expiresAt: new Date(DAY) };
  const doc = assignmentDocument({ id: 't1', action: 'install' }, pkg, 'b'.repeat(64), 'dev-1', window, ['old-key'], new Date(1000));
  assert.deepEqual(doc, {
    taskId: 't1',
    deviceId: 'dev-1',
    action: 'install',
    package: { contentId: 'a'.repeat(64), size: 10, manifestHash: 'b'.repeat(64), installCommand: '/bin/true', installArgs: ['-x'], successExitCodes: [0], timeoutSeconds: 60 },
    issuedAt: new Date(1000).toISOString(),
    notBefore: new Date(0).toISOString(),
    expiresAt: new Date(DAY).toISOString(),
    retiredKeyIds: ['old-key'],
  });
  const a = buildAssignment({ document: doc, keyId: 'k', signature: 'c2ln' }, [], pkg, settings, 'http://origin:8081');
  assert.equal(a.package.downloadUrl, `http://origin:8081/v1/content/${'a'.repeat(64)}`);
  assert.ok(taskAssignedV2Schema.safeParse(a).success);
  assert.equal('installCommand' in a.package, false, 'the command travels only in the signed document');
  assert.throws(() => assignmentDocument({ id: 't1', action: 'install' }, { ...pkg, contentId: null }, 'b'.repeat(64), 'd', window, [], new Date(0)), /no content/);
});

test('summarize lists the reasons devices gave, the one that holds up most devices first', () => {
  const s = summarize('t1', [{ subnet: null, state: 'queued', devices: 5, origin: 0, parent: 0, multicast: 0, peer: 0, lanBytesSent: 0, repairs: 0, invalidPackets: 0 }], [], [], [
    { state: 'failed', code: 'DOWNLOAD.EXHAUSTED', message: 'gave up', devices: 1 },
    { state: 'queued', code: 'CACHE.NO_SPACE', message: 'no room', devices: 3 },
    { state: 'downloading', code: 'DOWNLOAD.NETWORK', message: 'reset', devices: 1 },
  ]);
  assert.deepEqual(s.reasons?.map((r) => `${r.state}:${r.code}:${r.devices}`), ['queued:CACHE.NO_SPACE:3', 'downloading:DOWNLOAD.NETWORK:1', 'failed:DOWNLOAD.EXHAUSTED:1']);
  assert.deepEqual(summarize('t2', []).reasons, []);
});

test('summarizeOffices: WAN bytes are origin + parent, saved bytes multicast + peer; most WAN first, no office last', () => {
  const bytes = (origin: number, parent: number, multicast: number, peer: number) => ({ origin, parent, multicast, peer });
  const offices = summarizeOffices([
    { officeId: null, name: null, devices: 2, bytes: bytes(900, 0, 0, 0) },
    { officeId: 'west', name: 'West', devices: 3, bytes: bytes(100, 300, 0, 800) },
    { officeId: 'east', name: 'East', devices: 4, bytes: bytes(0, 400, 200, 1000) },
    { officeId: 'hq', name: null, devices: 1, bytes: bytes(0, 0, 0, 0) },
  ]);
  assert.deepEqual(
    offices.map((o) => [o.officeId, o.name, o.devices, o.wanBytes, o.savedBytes]),
    [
      ['east', 'East', 4, 400, 1200],
      ['west', 'West', 3, 400, 800],
      // An office recorded without a name reads as its ID.
      ['hq', 'hq', 1, 0, 0],
      [null, null, 2, 900, 0],
    ],
  );
  assert.deepEqual(offices[0]!.bytes, bytes(0, 400, 200, 1000));
  // summarize carries them; a task without office rows has an empty list.
  const rows = [{ officeId: 'east', name: 'East', devices: 1, bytes: bytes(5, 6, 7, 8) }];
  assert.deepEqual(summarize('t1', [], [], [], [], rows).offices, [{ officeId: 'east', name: 'East', devices: 1, bytes: bytes(5, 6, 7, 8), wanBytes: 11, savedBytes: 15 }]);
  assert.deepEqual(summarize('t1', []).offices, []);
});
