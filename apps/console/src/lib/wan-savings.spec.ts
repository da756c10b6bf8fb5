import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskSummary } from '@fleetcast/contracts';
import { layoutSavingsChart, savingsByDay, savingsBySubnet } from './wan-savings';

const zero = { pending: 0, queued: 0, downloading: 0, cached: 0, installing: 0, succeeded: 0, failed: 0, cancelled: 0 };
/** Subnets as [subnet, origin, multicast, peer, parent]; without parent, as an older gateway gives them. */
const summaryOf = (subnets: Array<[string, number, number, number, number?]>): TaskSummary => ({
  taskId: 't',
  total: 0,
  counts: zero,
  bytes: { origin: 0, parent: 0, multicast: 0, peer: 0 },
  subnets: subnets.map(([subnet, origin, multicast, peer, parent]) => ({
    subnet,
    total: 1,
    counts: zero,
    bytes: (parent === undefined ? { origin, multicast, peer } : { origin, parent, multicast, peer }) as TaskSummary['bytes'],
  })),
});

test('savings add up per subnet across tasks; LAN bytes are the WAN bytes saved, parent office bytes crossed the WAN', () => {
  const rows = savingsBySubnet([
    summaryOf([
      ['10.1.0.0/24', 100, 200, 100],
      ['10.2.0.0/24', 200, 0, 0, 100],
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

test('savings per day: tasks by their creation day, every day of the range present', () => {
  const task = (createdAt: string, origin: number, multicast: number, peer: number, parent = 0) => ({
    createdAt,
    summary: { ...summaryOf([['s', origin, multicast, peer, parent]]), bytes: { origin, parent, multicast, peer } },
  });
  const days = savingsByDay(
    [task('2026-12-03T08:00:00Z', 10, 30, 0), task('2026-12-03T23:59:59Z', 5, 0, 5, 10), task('2026-12-01T00:00:00Z', 1, 2, 3), task('2026-11-01T00:00:00Z', 100, 100, 100)],
    Date.parse('2026-12-03T12:00:00Z'),
    3,
  );
  assert.deepEqual(days, [
    { day: '2026-12-01', wanBytes: 1, savedBytes: 5 },
    { day: '2026-12-02', wanBytes: 0, savedBytes: 0 },
    { day: '2026-12-03', wanBytes: 25, savedBytes: 35 },
  ]);
});
