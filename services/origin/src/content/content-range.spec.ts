import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DownloadRequest, RangeRequest, ifRangeHolds, noneMatchHits, parseRange, planDownload } from './content-range';

const ok = (start: number, end: number): RangeRequest => ({ kind: 'satisfiable', range: { start, end } });
const unsatisfiable: RangeRequest = { kind: 'unsatisfiable' };

test('parseRange: single ranges, suffixes, clamping and what is refused', () => {
  const table: Array<[header: string | undefined, size: number, expected: RangeRequest | 'ignored']> = [
    [undefined, 100, { kind: 'absent' }],
    ['', 100, { kind: 'absent' }],
    ['bytes=0-0', 100, ok(0, 0)],
    ['bytes=0-99', 100, ok(0, 99)],
    ['bytes=10-19', 100, ok(10, 19)],
    ['bytes=90-', 100, ok(90, 99)],
    ['bytes=0-', 100, ok(0, 99)],
    ['bytes=99-', 100, ok(99, 99)],
    ['bytes=50-1000', 100, ok(50, 99)],
    ['bytes=50-99999999999999999999999', 100, ok(50, 99)],
    ['bytes=-10', 100, ok(90, 99)],
    ['bytes=-100', 100, ok(0, 99)],
    ['bytes=-1000', 100, ok(0, 99)],
    ['BYTES=1-2', 100, ok(1, 2)],
    ['bytes= 1-2 ', 100, ok(1, 2)],
    ['bytes=1-2,', 100, ok(1, 2)],
    ['bytes=100-', 100, unsatisfiable],
    ['bytes=100-200', 100, unsatisfiable],
    ['bytes=99999999999999999999999-', 100, unsatisfiable],
    ['bytes=-0', 100, unsatisfiable],
    ['bytes=0-', 0, unsatisfiable],
    ['bytes=-5', 0, unsatisfiable],
    ['bytes=0-1,5-6', 100, 'ignored'],
    ['items=0-1', 100, 'ignored'],
    ['bytes 0-1', 100, 'ignored'],
    ['bytes=', 100, 'ignored'],
    ['bytes=-', 100, 'ignored'],
    ['bytes=5-1', 100, 'ignored'],
    ['bytes=a-b', 100, 'ignored'],
    ['bytes=1.5-2', 100, 'ignored'],
    ['bytes=+1-2', 100, 'ignored'],
    ['bytes=1 - 2', 100, 'ignored'],
  ];
  for (const [header, size, expected] of table) {
    const actual = parseRange(header, size);
    if (expected === 'ignored') assert.equal(actual.kind, 'ignored', `${header} of ${size}`);
    else assert.deepEqual(actual, expected, `${header} of ${size}`);
  }
});

test('If-None-Match compares weakly, If-Range strongly', () => {
  const etag = '"abc"';
  assert.equal(noneMatchHits(undefined, etag), false);
  assert.equal(noneMatchHits('"abc"', etag), true);
  assert.equal(noneMatchHits('W/"abc"', etag), true);
  assert.equal(noneMatchHits('"x", "abc"', etag), true);
  assert.equal(noneMatchHits('*', etag), true);
  assert.equal(noneMatchHits('"abcd"', etag), false);
  assert.equal(ifRangeHolds(undefined, etag), true);
  assert.equal(ifRangeHolds('"abc"', etag), true);
  assert.equal(ifRangeHolds('W/"abc"', etag), false);
  assert.equal(ifRangeHolds('"other"', etag), false);
  assert.equal(ifRangeHolds('Wed, 21 Oct 2015 07:28:00 GMT', etag), false);
});

test('planDownload: status, headers and body for each kind of request', () => {
  const base: DownloadRequest = { method: 'GET', contentId: 'c0ffee', size: 1000 };
  const etag = '"c0ffee"';
  const table: Array<[name: string, request: Partial<DownloadRequest>, status: number, body: { start: number; end: number } | null, headers: Record<string, string>]> = [
    ['full GET', {}, 200, { start: 0, end: 999 }, { 'Content-Length': '1000', ETag: etag, 'Accept-Ranges': 'bytes' }],
    ['HEAD has no body', { method: 'HEAD' }, 200, null, { 'Content-Length': '1000' }],
    ['HEAD ignores Range', { method: 'HEAD', range: 'bytes=0-9' }, 200, null, { 'Content-Length': '1000' }],
    ['range', { range: 'bytes=100-199' }, 206, { start: 100, end: 199 }, { 'Content-Range': 'bytes 100-199/1000', 'Content-Length': '100' }],
    ['resume from an offset', { range: 'bytes=900-' }, 206, { start: 900, end: 999 }, { 'Content-Range': 'bytes 900-999/1000', 'Content-Length': '100' }],
    ['unsatisfiable', { range: 'bytes=1000-' }, 416, null, { 'Content-Range': 'bytes */1000' }],
    ['ignored range sends all', { range: 'bytes=0-1,4-5' }, 200, { start: 0, end: 999 }, { 'Content-Length': '1000' }],
    ['If-Range matching keeps the range', { range: 'bytes=0-9', ifRange: etag }, 206, { start: 0, end: 9 }, { 'Content-Length': '10' }],
    ['If-Range stale sends all', { range: 'bytes=0-9', ifRange: '"old"' }, 200, { start: 0, end: 999 }, { 'Content-Length': '1000' }],
    ['If-None-Match hit', { ifNoneMatch: etag }, 304, null, { ETag: etag }],
    ['If-None-Match wins over Range', { ifNoneMatch: etag, range: 'bytes=0-9' }, 304, null, { ETag: etag }],
    ['If-None-Match miss', { ifNoneMatch: '"other"' }, 200, { start: 0, end: 999 }, { 'Content-Length': '1000' }],
    ['empty content has no body', { size: 0 }, 200, null, { 'Content-Length': '0' }],
  ];
  for (const [name, overrides, status, body, headers] of table) {
    const plan = planDownload({ ...base, ...overrides });
    assert.equal(plan.status, status, name);
    assert.deepEqual(plan.body, body, name);
    for (const [key, value] of Object.entries(headers)) assert.equal(plan.headers[key], value, `${name}: ${key}`);
  }
});
