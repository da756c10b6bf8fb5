import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CacheEntry, planEviction } from './cache-policy';

const MB = 1024 * 1024;
const entries: CacheEntry[] = [
  { contentId: 'a', size: 40 * MB, lastUsedMs: 3000 },
  { contentId: 'b', size: 30 * MB, lastUsedMs: 1000 },
  { contentId: 'c', size: 20 * MB, lastUsedMs: 2000 },
];
const lots = 10_000 * MB;

test('eviction table: least recently used first, only as much as needed, pinned never', () => {
  const table: Array<[string, Parameters<typeof planEviction>[0], ReturnType<typeof planEviction>]> = [
    ['fits without evicting', { entries, pinned: new Set(), incoming: 10 * MB, limitBytes: 100 * MB, freeBytes: lots }, { fits: true, evict: [] }],
    ['evicts the oldest only', { entries, pinned: new Set(), incoming: 30 * MB, limitBytes: 100 * MB, freeBytes: lots }, { fits: true, evict: ['b'] }],
    ['evicts oldest, then next oldest', { entries, pinned: new Set(), incoming: 50 * MB, limitBytes: 100 * MB, freeBytes: lots }, { fits: true, evict: ['b', 'c'] }],
    ['skips pinned content of an active task', { entries, pinned: new Set(['b']), incoming: 30 * MB, limitBytes: 100 * MB, freeBytes: lots }, { fits: true, evict: ['c'] }],
    ['no limit: bounded by free disk space', { entries, pinned: new Set(), incoming: 60 * MB, limitBytes: null, freeBytes: 25 * MB }, { fits: true, evict: ['b', 'c'] }],
    ['cannot fit: says by how much and evicts nothing', { entries, pinned: new Set(['a']), incoming: 80 * MB, limitBytes: 100 * MB, freeBytes: lots }, { fits: false, evict: [], shortBytes: 20 * MB }],
    ['larger than the limit itself', { entries: [], pinned: new Set(), incoming: 120 * MB, limitBytes: 100 * MB, freeBytes: lots }, { fits: false, evict: [], shortBytes: 20 * MB }],
  ];
  for (const [name, request, expected] of table) assert.deepEqual(planEviction(request), expected, name);
});
