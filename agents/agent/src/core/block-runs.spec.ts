import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockRuns } from './block-runs';

test('blockRuns: consecutive indexes become one run, gaps split runs', () => {
  const cases: Array<[number[], Array<[number, number]>]> = [
    [[], []],
    [[0], [[0, 0]]],
    [[0, 1, 2, 3], [[0, 3]]],
    [[7, 1, 2, 3, 5, 2], [[1, 3], [5, 5], [7, 7]]],
    [[4, 5, 9, 10, 11, 0], [[0, 0], [4, 5], [9, 11]]],
  ];
  for (const [blocks, runs] of cases) {
    assert.deepEqual(blockRuns(blocks).map((r) => [r.first, r.last]), runs, JSON.stringify(blocks));
  }
});
