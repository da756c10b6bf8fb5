import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { expiringNotice, licenseState } from './license-status';

const DAY = 86_400_000;
const now = new Date('2026-03-10T12:00:00.000Z');
const inDays = (days: number) => new Date(now.getTime() + days * DAY);

describe('licenseState', () => {
  const cases: Array<[string, Date | null, number[], string]> = [
    ['no license', null, [30], 'none'],
    ['far from expiry', inDays(31), [30], 'valid'],
    ['exactly at the threshold', inDays(30), [30], 'expiring'],
    ['within the largest of several thresholds', inDays(20), [7, 30], 'expiring'],
    ['one millisecond left', new Date(now.getTime() + 1), [30], 'expiring'],
    ['at the expiry instant', now, [30], 'expired'],
    ['past expiry', inDays(-1), [30], 'expired'],
  ];
  for (const [name, expiresAt, days, expected] of cases) {
    it(`${name}: ${expected}`, () => assert.equal(licenseState(expiresAt, now, days), expected));
  }
});

describe('expiringNotice', () => {
  const cases: Array<{ name: string; expiresIn: number; thresholds: number[]; notified: number[]; expect: ReturnType<typeof expiringNotice> }> = [
    { name: 'before any threshold', expiresIn: 31, thresholds: [30], notified: [], expect: null },
    { name: 'the threshold crossed', expiresIn: 29.5, thresholds: [30], notified: [], expect: { announce: { thresholdDays: 30, daysLeft: 29 }, notified: [30] } },
    { name: 'the same threshold again: nothing', expiresIn: 20, thresholds: [30], notified: [30], expect: null },
    { name: 'the next threshold of several', expiresIn: 6, thresholds: [30, 7, 1], notified: [30], expect: { announce: { thresholdDays: 7, daysLeft: 6 }, notified: [30, 7] } },
    { name: 'several crossed at once: only the closest is announced', expiresIn: 0.5, thresholds: [30, 7, 1], notified: [], expect: { announce: { thresholdDays: 1, daysLeft: 0 }, notified: [30, 7, 1] } },
    { name: 'a threshold added to the config after the closer one was announced: recorded, not announced', expiresIn: 5, thresholds: [30, 7], notified: [7], expect: { announce: null, notified: [30, 7] } },
    { name: 'expired: nothing', expiresIn: -1, thresholds: [30], notified: [], expect: null },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(expiringNotice(inDays(c.expiresIn), c.thresholds, c.notified, now), c.expect));
  }
});
