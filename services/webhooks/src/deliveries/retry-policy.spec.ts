import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RETRY_POLICY, nextAttemptAt } from './retry-policy';

const policy = { baseDelayMs: 1_000, maxDelayMs: 8_000, retryPeriodMs: 60_000 };

test('retry policy: the wait doubles from the base, is jittered within its upper half, and is capped', () => {
  const table: Array<[number, number, number]> = [
    // attempts, lowest wait (random 0), highest wait (random ~1)
    [1, 500, 1_000],
    [2, 1_000, 2_000],
    [3, 2_000, 4_000],
    [4, 4_000, 8_000],
    [5, 4_000, 8_000],
    [40, 4_000, 8_000],
  ];
  for (const [attempts, low, high] of table) {
    assert.equal(nextAttemptAt(attempts, 0, 10_000, policy, () => 0), 10_000 + low, `attempt ${attempts}, lowest`);
    assert.equal(nextAttemptAt(attempts, 0, 10_000, policy, () => 0.999_999), Math.round(10_000 + high * (0.5 + 0.999_999 / 2)), `attempt ${attempts}, highest`);
  }
});

test('retry policy: no attempt after the retry period; the defaults give about three days', () => {
  assert.equal(nextAttemptAt(3, 0, 58_001, policy, () => 0), null, 'the next wait would end past the period');
  assert.notEqual(nextAttemptAt(3, 0, 57_000, policy, () => 0), null);
  let at = 0;
  let attempts = 0;
  for (;;) {
    const next = nextAttemptAt(attempts + 1, 0, at, DEFAULT_RETRY_POLICY, () => 0.5);
    if (next === null) break;
    at = next;
    attempts++;
  }
  // Waits average three quarters of their ceiling: 45 min once capped, so about a hundred attempts.
  assert.ok(attempts > 90 && attempts < 110, `${attempts} retries in the default period`);
  assert.ok(at > 71 * 3_600_000, `the last attempt ${(at / 3_600_000).toFixed(1)} h after the first`);
});
