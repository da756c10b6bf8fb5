import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Device } from '@fleetcast/contracts';
import { fleetOverview } from './fleet-overview';

const device = (id: string, agentVersion: string, stale = false, platform: Device['platform'] = 'linux', unsupported = false): Device => ({
  id,
  hostname: id,
  platform,
  osVersion: '12',
  agentVersion,
  interfaces: [],
  subnets: [],
  cachedContentIds: [],
  cacheFreeBytes: 0,
  lastSeenAt: '2026-12-03T08:00:00Z',
  stale,
  versionStatus: unsupported ? { state: 'unsupported-version', reason: 'too old' } : { state: 'supported', reason: null },
});

test('counts online and stale devices, versions most common first, platforms', () => {
  const o = fleetOverview(
    [device('a', '0.2.0'), device('b', '0.2.0', true), device('c', '0.1.0', false, 'windows', true), device('d', '0.2.0')],
    [{ cidr: '10.0.0.0/24', family: 'ipv4', deviceCount: 4, staleCount: 1 }],
  );
  assert.equal(o.devices, 4);
  assert.equal(o.online, 3);
  assert.equal(o.stale, 1);
  assert.deepEqual(o.versions, [
    { version: '0.2.0', devices: 3, unsupported: 0 },
    { version: '0.1.0', devices: 1, unsupported: 1 },
  ]);
  assert.deepEqual(o.platforms, [
    { platform: 'linux', devices: 3 },
    { platform: 'windows', devices: 1 },
  ]);
  assert.equal(o.subnets, 1);
});

test('an empty fleet', () => {
  assert.deepEqual(fleetOverview([], []), { devices: 0, online: 0, stale: 0, versions: [], platforms: [], subnets: 0 });
});
