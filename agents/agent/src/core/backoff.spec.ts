import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelayMs, stableFraction } from './backoff';

const policy = { baseDelayMs: 1000, maxDelayMs: 10_000 };

test('back-off doubles per failure and stops at the cap', () => {
  const cases: Array<[failures: number, jitter: number, expected: number]> = [
    [0, 0.5, 0],
    [1, 0, 500],
    [1, 1, 1000],
    [2, 0, 1000],
    [3, 1, 4000],
    [4, 1, 8000],
    [5, 1, 10_000],
    [50, 1, 10_000],
    [50, 0, 5000],
  ];
  for (const [failures, jitter, expected] of cases) {
    assert.equal(backoffDelayMs(failures, policy, jitter), expected, `failures=${failures} jitter=${jitter}`);
  }
});

test('jitter outside [0, 1] is clamped rather than producing negative or doubled delays', () => {
  assert.equal(backoffDelayMs(1, policy, -3), 500);
  assert.equal(backoffDelayMs(1, policy, 7), 1000);
});

test('stable fraction is deterministic, in [0, 1), and differs between keys', () => {
  const a = stableFraction('device-a:task-1:1');
  assert.equal(a, stableFraction('device-a:task-1:1'));
  assert.ok(a >= 0 && a < 1);
  const values = new Set(Array.from({ length: 100 }, (_, i) => stableFraction(`device-${i}:task-1:1`)));
  assert.ok(values.size > 95, 'a fleet gets spread, not one value');
});
