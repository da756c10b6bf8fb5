import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RatePacer } from './rate-pacer';

describe('RatePacer', () => {
  test('no cap: never waits', () => {
    const pacer = new RatePacer(0);
    assert.equal(pacer.reserve(1 << 20, 0), 0);
    assert.equal(pacer.reserve(1 << 20, 0), 0);
  });

  test('blocks queue one after the other at the cap', () => {
    // 8,000 kbit/s = 1,000 bytes per ms: a block of 100,000 bytes takes 100 ms.
    const pacer = new RatePacer(8_000);
    assert.equal(pacer.reserve(100_000, 0), 0);
    assert.equal(pacer.reserve(100_000, 0), 100);
    assert.equal(pacer.reserve(100_000, 50), 150);
  });

  test('idle time is not saved up: after a pause the next block goes at once, then the cap holds', () => {
    const pacer = new RatePacer(8_000);
    pacer.reserve(100_000, 0);
    assert.equal(pacer.reserve(100_000, 1_000), 0);
    assert.equal(pacer.reserve(100_000, 1_000), 100);
  });

  test('a reader waits out the slot of what it took: never ahead of the cap', () => {
    const pacer = new RatePacer(8_000);
    assert.equal(pacer.reserveTaken(100_000, 0), 100);
    assert.equal(pacer.reserveTaken(50_000, 100), 50);
    assert.equal(new RatePacer(0).reserveTaken(100_000, 0), 0);
  });

  test('a negative or non-finite rate is refused', () => {
    assert.throws(() => new RatePacer(-1), RangeError);
    assert.throws(() => new RatePacer(Number.NaN), RangeError);
  });
});
