import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FOLLOW_STALL_MS, followDeadlineMs, HELD_BLOCKS_FLOOR_BYTES_PER_SECOND, stallAllowanceMs } from './session-deadline';

const MIB = 1024 * 1024;
const base = { startDelayMs: 60_000, stallMs: FOLLOW_STALL_MS, rateKbps: 0, blockSize: MIB };

test('session deadline: before the first block, the start delay plus the allowance; after one, the allowance from it', () => {
  const table: Array<{ name: string; watch: Parameters<typeof followDeadlineMs>[0]; options?: Partial<typeof base>; deadline: number }> = [
    { name: 'nothing yet', watch: { sinceMs: 1_000, lastBlockAtMs: null, blocksHeldAtJoin: 0 }, deadline: 1_000 + 60_000 + 60_000 },
    { name: 'start delay 0', watch: { sinceMs: 1_000, lastBlockAtMs: null, blocksHeldAtJoin: 0 }, options: { startDelayMs: 0 }, deadline: 61_000 },
    { name: 'a block at 90 s', watch: { sinceMs: 1_000, lastBlockAtMs: 90_000, blocksHeldAtJoin: 0 }, deadline: 150_000 },
    // Holding 30 blocks at join: 30 MiB at the 1 MiB/s floor is 30 s more.
    { name: 'held 30 blocks at join', watch: { sinceMs: 0, lastBlockAtMs: 10_000, blocksHeldAtJoin: 30 }, deadline: 10_000 + 60_000 + 30_000 },
    // A 100 kbit/s cap: three 1 MiB blocks take 251.7 s, more than the minute.
    { name: 'rate cap 100 kbit/s', watch: { sinceMs: 0, lastBlockAtMs: 0, blocksHeldAtJoin: 0 }, options: { rateKbps: 100 }, deadline: (3 * MIB * 8) / 100 },
    // A 1 Mbit/s cap: held blocks go by at 125 kB/s, not the floor.
    { name: 'rate cap 1000 kbit/s, 2 held', watch: { sinceMs: 0, lastBlockAtMs: 0, blocksHeldAtJoin: 2 }, options: { rateKbps: 1_000 }, deadline: 60_000 + (2 * MIB * 1000) / 125_000 },
  ];
  for (const row of table) {
    assert.equal(followDeadlineMs(row.watch, { ...base, ...row.options }), row.deadline, row.name);
  }
});

test('session deadline: the allowance is never under the stall setting and grows with the blocks held at join', () => {
  const none = stallAllowanceMs({ sinceMs: 0, lastBlockAtMs: null, blocksHeldAtJoin: 0 }, base);
  assert.equal(none, FOLLOW_STALL_MS);
  const many = stallAllowanceMs({ sinceMs: 0, lastBlockAtMs: null, blocksHeldAtJoin: 4096 }, base);
  assert.equal(many, FOLLOW_STALL_MS + ((4096 * MIB) / HELD_BLOCKS_FLOOR_BYTES_PER_SECOND) * 1000);
  assert.equal(stallAllowanceMs({ sinceMs: 0, lastBlockAtMs: null, blocksHeldAtJoin: 0 }, { ...base, stallMs: 500 }), 500);
});
