import { blockRuns } from './block-runs';

/**
 * A run of held blocks as `first` + `count`: the shape of a PEER_HAVE range in the LAN protocol
 * (first block and block count, 4 bytes each), so that holdings read over HTTP and holdings heard
 * on the subnet are one type for whoever picks a peer.
 */
export interface HeldRange {
  first: number;
  count: number;
}

/**
 * Compacts block indexes into ascending ranges, duplicates ignored: [0, 1, 2, 5] -> {0, 3}, {5, 1}.
 * A complete file of any size is one range, so a holdings answer stays a few bytes.
 */
export function compactRanges(blocks: Iterable<number>): HeldRange[] {
  return blockRuns(blocks).map((run) => ({ first: run.first, count: run.last - run.first + 1 }));
}

/**
 * Expands ranges a peer sent into a set of block indexes, or returns why they are unusable:
 * a range must be integers, non-empty and inside 0..blockCount-1. Overlaps are tolerated (several
 * PEER_HAVE packets add up), but the ranges may not claim more blocks in total than the content
 * has: that bounds the work a garbage answer can cause to the size of the content. A peer's claim
 * is only a hint (every block is verified on arrival), but a claim outside the content would make
 * the fetcher ask for blocks that cannot exist.
 */
export function expandRanges(ranges: readonly HeldRange[], blockCount: number): Set<number> | { error: string } {
  const held = new Set<number>();
  let claimed = 0;
  for (const { first, count } of ranges) {
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || first < 0 || count < 1) {
      return { error: `range ${JSON.stringify({ first, count })} is not a first block and a positive count` };
    }
    if (first + count > blockCount) return { error: `range ${first}+${count} goes past the last block (${blockCount - 1})` };
    claimed += count;
    if (claimed > blockCount) return { error: `ranges claim more than the ${blockCount} blocks of the content` };
    for (let i = first; i < first + count; i++) held.add(i);
  }
  return held;
}

/** Block indexes for people: [1, 2, 3, 7] -> "1-3, 7"; at most `maxRanges` ranges, then "… (+N more)". */
export function describeBlocks(blocks: Iterable<number>, maxRanges = 20): string {
  const ranges = compactRanges(blocks);
  const shown = ranges.slice(0, maxRanges).map((r) => (r.count === 1 ? String(r.first) : `${r.first}-${r.first + r.count - 1}`));
  const rest = ranges.length - shown.length;
  return rest > 0 ? `${shown.join(', ')} … (+${rest} more ranges)` : shown.join(', ');
}
