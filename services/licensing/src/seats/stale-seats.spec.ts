import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { seenBefore, staleCutoff } from './stale-seats';

describe('stale seats', () => {
  const now = new Date('2026-03-10T12:00:00.000Z');

  it('puts the cutoff the given days before now', () => {
    assert.equal(staleCutoff(now, 30).toISOString(), '2026-02-08T12:00:00.000Z');
  });

  it('keeps only devices last seen strictly before the cutoff, and never one whose time does not parse', () => {
    const cutoff = staleCutoff(now, 30);
    const devices = [
      { id: 'old', lastSeenAt: '2026-01-01T00:00:00.000Z' },
      { id: 'at-cutoff', lastSeenAt: '2026-02-08T12:00:00.000Z' },
      { id: 'recent', lastSeenAt: '2026-03-09T00:00:00.000Z' },
      { id: 'garbled', lastSeenAt: 'yesterday' },
      { id: 'just-before', lastSeenAt: '2026-02-08T11:59:59.999Z' },
    ];
    assert.deepEqual(seenBefore(devices, cutoff), ['old', 'just-before']);
  });
});
