import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAgo, formatBytes, formatDuration, formatPercent, formatTime, percentOf, shortId } from './format';

test('formatBytes: binary units, one decimal below 100', () => {
  const table: Array<[number, string]> = [
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KB'],
    [1536, '1.5 KB'],
    [20 * 1024 * 1024, '20.0 MB'],
    [150 * 1024 * 1024, '150 MB'],
    [3 * 1024 ** 4, '3.0 TB'],
    [-1, '–'],
    [Number.NaN, '–'],
  ];
  for (const [bytes, text] of table) assert.equal(formatBytes(bytes), text, String(bytes));
});

test('percentages are floored: 100 % only when all of it is there', () => {
  assert.equal(formatPercent(999, 1000), '99 %');
  assert.equal(formatPercent(1000, 1000), '100 %');
  assert.equal(formatPercent(5, 0), '0 %');
  assert.equal(percentOf(1, 3), 33);
  assert.equal(percentOf(7, 5), 100);
  assert.equal(percentOf(-3, 5), 0);
});

test('durations, times and ages', () => {
  assert.equal(formatDuration(45), '45 s');
  assert.equal(formatDuration(200), '3 min 20 s');
  assert.equal(formatDuration(180), '3 min');
  assert.equal(formatDuration(7500), '2 h 5 min');
  assert.equal(formatTime('2026-12-03T08:42:17.123Z'), '2026-12-03 08:42:17 UTC');
  assert.equal(formatTime(null), '–');
  const now = Date.parse('2026-12-03T12:00:00Z');
  assert.equal(formatAgo('2026-12-03T11:59:30Z', now), 'just now');
  assert.equal(formatAgo('2026-12-03T11:55:00Z', now), '5 min ago');
  assert.equal(formatAgo('2026-12-03T09:00:00Z', now), '3 h ago');
  assert.equal(formatAgo('2026-12-02T12:00:00Z', now), '1 day ago');
  assert.equal(shortId('0123456789abcdef'), '01234567…');
  assert.equal(shortId('short'), 'short');
});
