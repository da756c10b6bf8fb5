import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceStatusV1, Package } from '@fleetcast/contracts';
import { buildAssignment, latestReports, summarize } from './task-model';

const report = (deviceId: string, seq: number, state: DeviceStatusV1['state']): DeviceStatusV1 => ({
  taskId: 't1',
  deviceId,
  seq,
  state,
  reportedAt: new Date(0).toISOString(),
  bytes: { origin: seq, multicast: 0, peer: 0 },
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
    { subnet: '10.0.1.0/24', state: 'succeeded', devices: 2, origin: 100, multicast: 50, peer: 0, lanBytesSent: 70, repairs: 3, invalidPackets: 0 },
    { subnet: '10.0.1.0/24', state: 'failed', devices: 1, origin: 10, multicast: 0, peer: 5, lanBytesSent: 0, repairs: 1, invalidPackets: 4 },
    { subnet: null, state: 'pending', devices: 3, origin: 0, multicast: 0, peer: 0, lanBytesSent: 0, repairs: 0, invalidPackets: 0 },
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
  assert.deepEqual(s.bytes, { origin: 110, multicast: 50, peer: 5 });
  assert.deepEqual(
    s.subnets.map((x) => [x.subnet, x.total]),
    [
      ['10.0.1.0/24', 3],
      ['unknown', 3],
    ],
  );
});

test('buildAssignment points at the content address and refuses a package without content', () => {
  const pkg: Package = {
    id: 'p1', name: 'n', version: '1', platform: 'linux', installCommand: '/bin/true', installArgs: [], successExitCodes: [0],
    timeoutSeconds: 60, status: 'ready', contentId: 'a'.repeat(64), size: 10, createdAt: '',
  };
  const settings = { profileId: 'default', useMulticast: true, sessionStartDelaySeconds: 60, peerDownloadAllowed: true, lanRateLimitKbps: null, cacheSizeLimitBytes: null };
  const a = buildAssignment({ id: 't1', action: 'install' }, pkg, settings, 'dev-1', 'http://origin:8081', new Date(0));
  assert.equal(a.package.downloadUrl, `http://origin:8081/v1/content/${'a'.repeat(64)}`);
  assert.equal(a.deviceId, 'dev-1');
  assert.throws(() => buildAssignment({ id: 't1', action: 'install' }, { ...pkg, contentId: null }, settings, 'd', 'http://o', new Date(0)), /no content/);
});
