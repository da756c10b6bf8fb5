import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskSummary } from '@fleetcast/contracts';
import { exitCodeOf, isSettled, outcomeLine, shouldPrintPlain, stateCountsLine, summaryOfEvent, watchLine } from './task-watch';

const MiB = 1024 * 1024;

function summary(counts: Partial<TaskSummary['counts']>, bytes = { origin: 0, parent: 0, multicast: 0, peer: 0 }, reasons?: TaskSummary['reasons']): TaskSummary {
  const full = { pending: 0, queued: 0, downloading: 0, cached: 0, installing: 0, succeeded: 0, failed: 0, cancelled: 0, ...counts };
  const total = Object.values(full).reduce((a, b) => a + b, 0);
  return { taskId: 't-1', total, counts: full, bytes, subnets: [], ...(reasons ? { reasons } : {}) };
}

describe('task watch', () => {
  const cases: Array<[string, Partial<TaskSummary['counts']>, boolean, 0 | 1]> = [
    ['all pending', { pending: 3 }, false, 0],
    ['some downloading', { downloading: 1, succeeded: 2 }, false, 0],
    ['cached is not final (an install follows)', { cached: 1, succeeded: 2 }, false, 0],
    ['all succeeded', { succeeded: 3 }, true, 0],
    ['one failed', { succeeded: 2, failed: 1 }, true, 1],
    ['a failure while others run: not settled yet, but already exit 1', { failed: 1, installing: 1 }, false, 1],
    ['no devices at all', {}, true, 0],
  ];
  for (const [name, counts, settled, exit] of cases) {
    test(name, () => {
      const s = summary(counts);
      assert.equal(isSettled(s), settled);
      assert.equal(exitCodeOf(s), exit);
    });
  }

  test('counts per state in lifecycle order, bytes by source', () => {
    const s = summary({ failed: 1, downloading: 2, succeeded: 1 }, { origin: 150 * MiB, parent: 3 * MiB, multicast: 2 * MiB, peer: 0 });
    assert.equal(stateCountsLine(s), '2 downloading, 1 succeeded, 1 failed (of 4)');
    assert.equal(watchLine(s), '2/4 done: 2 downloading, 1 succeeded, 1 failed (of 4); origin 150.0 MiB, parent office 3.0 MiB, multicast 2.0 MiB, peer 0 B');
    // An older gateway's summary has no parent bytes.
    const older = { ...s, bytes: { origin: MiB, multicast: 0, peer: 0 } } as unknown as TaskSummary;
    assert.match(watchLine(older), /; origin 1\.0 MiB, parent office 0 B, multicast 0 B, peer 0 B$/);
  });

  test('the outcome line', () => {
    assert.equal(outcomeLine(summary({ succeeded: 1, failed: 2 })), '2 of 3 devices failed');
    assert.equal(outcomeLine(summary({ succeeded: 2 })), 'all 2 devices succeeded');
  });

  test('a plain log gets a line per change of state, not per byte, and a heartbeat', () => {
    const first = watchLine(summary({ downloading: 2 }, { origin: MiB, parent: 0, multicast: 0, peer: 0 }));
    const moreBytes = watchLine(summary({ downloading: 2 }, { origin: 5 * MiB, parent: 0, multicast: 0, peer: 0 }));
    const changed = watchLine(summary({ downloading: 1, succeeded: 1 }, { origin: 5 * MiB, parent: 0, multicast: 0, peer: 0 }));
    assert.equal(shouldPrintPlain(undefined, first, 0, 30_000), true);
    assert.equal(shouldPrintPlain({ line: first, atMs: 0 }, moreBytes, 1_000, 30_000), false);
    assert.equal(shouldPrintPlain({ line: first, atMs: 0 }, moreBytes, 30_000, 30_000), true);
    assert.equal(shouldPrintPlain({ line: first, atMs: 0 }, changed, 1_000, 30_000), true);
  });
});

describe('task watch: cancelled devices and live events', () => {
  test('a cancelled device is final; the watch exits 1 and says so', () => {
    const s = summary({ succeeded: 1, cancelled: 2 });
    assert.equal(isSettled(s), true);
    assert.equal(exitCodeOf(s), 1);
    assert.equal(outcomeLine(s), '2 of 3 devices cancelled');
    assert.equal(outcomeLine(summary({ failed: 1, cancelled: 1 })), '1 of 2 devices failed, 1 of 2 devices cancelled');
  });

  test('summaryOfEvent: the snapshot whole, a task event over the last summary, nothing from others', () => {
    const first = summary({ pending: 2 });
    assert.deepEqual(summaryOfEvent('t-1', { event: 'snapshot', data: JSON.stringify({ id: 't-1', summary: first }) }, undefined), first);
    const counts = { ...first.counts, pending: 0, succeeded: 2 };
    const next = summaryOfEvent('t-1', { event: 'task', data: JSON.stringify({ taskId: 't-1', status: 'completed', total: 2, counts, bytes: { origin: 5, multicast: 0, peer: 0 } }) }, first);
    assert.deepEqual([next?.counts.succeeded, next?.bytes.origin, next?.subnets], [2, 5, []]);
    assert.equal(summaryOfEvent('t-1', { event: 'task', data: JSON.stringify({ taskId: 'other', total: 1, counts }) }, first), null);
    assert.equal(summaryOfEvent('t-1', { event: 'device', data: '{"taskId":"t-1"}' }, first), null);
    assert.equal(summaryOfEvent('t-1', { event: 'heartbeat', data: 'not json' }, first), null);
  });
});
