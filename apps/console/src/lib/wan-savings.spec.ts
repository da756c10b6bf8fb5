import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskSummary } from '@fleetcast/contracts';
import { layoutSavingsChart, savingsBySubnet } from './wan-savings';

const zero = { pending: 0, queued: 0, downloading: 0, cached: 0, installing: 0, succeeded: 0, failed: 0 };
const summaryOf = (subnets: Array<[string, number, number, number]>): TaskSummary => ({
  taskId: 't',
  total: 0,
  counts: zero,
  bytes: { origin: 0, multicast: 0, peer: 0 },
  subnets: subnets.map(([subnet, origin, multicast, peer]) => ({ subnet, total: 1, counts: zero, bytes: { origin, multicast, peer } })),
});

test('savings add up per subnet across tasks; LAN bytes are the WAN bytes saved', () => {
  const rows = savingsBySubnet([
    summaryOf([
      ['10.1.0.0/24', 100, 200, 100],
      ['10.2.0.0/24', 300, 0, 0],
    ]),
    summaryOf([['10.1.0.0/24', 100, 300, 0]]),
  ]);
  assert.deepEqual(rows, [
    { subnet: '10.1.0.0/24', wanBytes: 200, savedBytes: 600, savedPercent: 75 },
    { subnet: '10.2.0.0/24', wanBytes: 300, savedBytes: 0, savedPercent: 0 },
  ]);
  assert.deepEqual(savingsBySubnet([]), []);
});

test('the chart puts every bar on one scale and keeps the subnets that saved most', () => {
  const rows = savingsBySubnet([
    summaryOf([
      ['a', 100, 300, 0],
      ['b', 200, 0, 0],
      ['c', 0, 50, 0],
    ]),
  ]);
  const layout = layoutSavingsChart(rows, { width: 500, left: 100, barHeight: 20, gap: 10, maxBars: 2 });
  assert.equal(layout.max, 400);
  assert.deepEqual(
    layout.bars.map((b) => [b.label, b.y, b.savedWidth, b.wanWidth]),
    [
      ['a', 0, 300, 100],
      ['c', 30, 50, 0],
    ],
  );
  assert.equal(layout.height, 50);
  // Nothing at all still draws a scale (no division by zero).
  assert.equal(layoutSavingsChart([], { width: 500, left: 100, barHeight: 20, gap: 10, maxBars: 5 }).max, 1);
});
