import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compactRanges, describeBlocks, expandRanges } from './block-ranges';

test('compactRanges: held blocks become first + count ranges, ascending, duplicates ignored', () => {
  const cases: Array<[number[], Array<[number, number]>]> = [
    [[], []],
    [[0], [[0, 1]]],
    [[0, 1, 2, 3, 4, 5], [[0, 6]]],
    [[5, 0, 1, 2, 2], [[0, 3], [5, 1]]],
    [[9, 3, 4, 7], [[3, 2], [7, 1], [9, 1]]],
  ];
  for (const [blocks, ranges] of cases) {
    assert.deepEqual(compactRanges(blocks).map((r) => [r.first, r.count]), ranges, JSON.stringify(blocks));
  }
});

test('expandRanges: the inverse of compactRanges, overlaps tolerated', () => {
  for (const blocks of [[], [0], [0, 1, 2], [1, 4, 5, 9]]) {
    assert.deepEqual([...(expandRanges(compactRanges(blocks), 10) as Set<number>)].sort((a, b) => a - b), blocks);
  }
  assert.deepEqual([...(expandRanges([{ first: 0, count: 3 }, { first: 2, count: 2 }], 6) as Set<number>)], [0, 1, 2, 3]);
});

test('expandRanges: claims outside the content or malformed are refused with a reason', () => {
  const bad: Array<Array<{ first: number; count: number }>> = [
    [{ first: -1, count: 2 }],
    [{ first: 0, count: 0 }],
    [{ first: 1.5, count: 1 }],
    [{ first: 0, count: Number.NaN }],
    [{ first: 5, count: 2 }], // blocks 5 and 6 of a 6-block content
    [{ first: 0, count: 1 }, { first: 6, count: 1 }],
    // Overlaps claiming more blocks than exist: garbage, refused before any work grows with it.
    [{ first: 0, count: 6 }, { first: 0, count: 6 }],
  ];
  for (const ranges of bad) {
    const result = expandRanges(ranges, 6);
    assert.ok(!(result instanceof Set) && typeof result.error === 'string', JSON.stringify(ranges));
  }
});

test('describeBlocks: short and bounded', () => {
  assert.equal(describeBlocks([1, 2, 3, 7]), '1-3, 7');
  assert.equal(describeBlocks([]), '');
  assert.equal(describeBlocks([0, 2, 4, 6], 2), '0, 2 … (+2 more ranges)');
});
