import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { WanSavingsReport } from '@fleetcast/contracts';
import { formatPlan, formatWanSavings } from './plan-format';
import { samplePlan } from './plan-format.fixture';

const MiB = 1024 * 1024;

describe('formatPlan', () => {
  test('totals, settings, then a row per subnet and per office', () => {
    const text = formatPlan(samplePlan);
    assert.match(text, /^package: +pkg-1 \(20\.0 MiB\)$/m);
    assert.match(text, /^devices: +7 \(\+1 excluded: old-1 AGENT\.UNSUPPORTED_VERSION\)$/m);
    assert.match(text, /^with sharing: +60\.0 MiB over the WAN, done in 25s$/m);
    assert.match(text, /^without sharing: +140\.0 MiB over the WAN, done in 1m35s$/m);
    assert.match(text, /^WAN saved: +80\.0 MiB$/m);
    assert.match(text, /^10\.1\.1\.0\/24 +lyon +5 +multicast +20\.0 MiB +12s +100\.0 MiB +45s$/m);
    assert.match(text, /^10\.8\.0\.0\/24 +home +2 +none \(office-type\) +40\.0 MiB/m);
    assert.match(text, /^lyon +default +hq +20000 kbit\/s +5 +20\.0 MiB +100\.0 MiB +12s +45s$/m);
  });

  test('without a topology it says which bandwidth it assumed and lists no offices', () => {
    const text = formatPlan({ ...samplePlan, topologyVersion: null, offices: [] });
    assert.match(text, /^topology: +none: every subnet behind its own 10000 kbit\/s link$/m);
    assert.doesNotMatch(text, /^OFFICE/m);
  });
});

describe('formatWanSavings', () => {
  test('a row per office with its name, and the totals', () => {
    const report: WanSavingsReport = {
      from: '2026-11-01T00:00:00.000Z',
      to: '2026-12-01T00:00:00.000Z',
      groupBy: 'office',
      topologyVersion: 4,
      items: [
        { key: 'lyon', name: 'Lyon', bytes: { origin: 20 * MiB, parent: 10 * MiB, multicast: 80 * MiB, peer: 0 }, savedBytes: 80 * MiB, savedRatio: 80 / 110 },
        { key: null, name: null, bytes: { origin: MiB, parent: 0, multicast: 0, peer: 0 }, savedBytes: 0, savedRatio: 0 },
      ],
      totals: { bytes: { origin: 21 * MiB, parent: 10 * MiB, multicast: 80 * MiB, peer: 0 }, savedBytes: 80 * MiB, savedRatio: 80 / 111 },
    };
    const text = formatWanSavings(report);
    assert.match(text, /^lyon \(Lyon\) +20\.0 MiB +10\.0 MiB +80\.0 MiB +0 B +80\.0 MiB +72\.7 %$/m);
    assert.match(text, /^\(no office\) +1\.0 MiB +0 B/m);
    assert.match(text, /^total: 80\.0 MiB saved of 111\.0 MiB delivered \(72\.1 %\); 21\.0 MiB from the origin, 10\.0 MiB from parent offices$/m);
  });
});
