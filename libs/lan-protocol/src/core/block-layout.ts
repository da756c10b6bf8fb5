import { blockCount, blockRange } from '@fleetcast/content';
import { MAX_CODE_SYMBOLS, MAX_SYMBOL_BYTES } from '../protocol/constants';

/**
 * How a session cuts the content into what travels: manifest blocks (verified units), each cut into
 * symbols of `symbolSize` bytes (one per DATA packet), grouped k at a time into FEC groups.
 *
 *   block b = symbols 0..n_b-1, n_b = ceil(blockLength(b) / symbolSize)
 *   group g of block b = symbols g*k .. min((g+1)*k, n_b) - 1       (the last group may be short)
 *
 * Groups never straddle blocks, so a block decodes and verifies on its own, and a receiver that
 * has a block (from the origin or a peer) knows exactly which groups it no longer needs.
 * Every device derives the same layout from the ANNOUNCE, so no packet carries it.
 */
export interface SessionLayout {
  size: number;
  blockSize: number;
  symbolSize: number;
  /** k: data symbols of a full FEC group. */
  groupDataSymbols: number;
}

/** What is wrong with a layout, or null when every block is addressable. */
export function layoutError(layout: SessionLayout): string | null {
  const { size, blockSize, symbolSize, groupDataSymbols: k } = layout;
  if (!Number.isSafeInteger(size) || size < 0) return 'size must be a non-negative safe integer';
  if (!Number.isInteger(blockSize) || blockSize < 1) return 'block size must be a positive integer';
  if (!Number.isInteger(symbolSize) || symbolSize < 1 || symbolSize > MAX_SYMBOL_BYTES) return `symbol size must be 1..${MAX_SYMBOL_BYTES}`;
  if (!Number.isInteger(k) || k < 1 || k >= MAX_CODE_SYMBOLS) return `data symbols per group must be 1..${MAX_CODE_SYMBOLS - 1}`;
  if (Math.ceil(Math.ceil(blockSize / symbolSize) / k) > 0x10000) return 'a block has more than 65536 FEC groups';
  return null;
}

export function blockCountOf(layout: SessionLayout): number {
  return blockCount(layout.size, layout.blockSize);
}

export function blockLength(layout: SessionLayout, block: number): number {
  const { start, end } = blockRange(layout, block);
  return Math.max(0, end - start);
}

export function symbolsInBlock(layout: SessionLayout, block: number): number {
  return Math.ceil(blockLength(layout, block) / layout.symbolSize);
}

export function groupsInBlock(layout: SessionLayout, block: number): number {
  return Math.ceil(symbolsInBlock(layout, block) / layout.groupDataSymbols);
}

/** k of one group: the full k, or fewer for the last group of a block; 0 for a group that does not exist. */
export function groupDataCount(layout: SessionLayout, block: number, group: number): number {
  const symbols = symbolsInBlock(layout, block);
  return Math.max(0, Math.min(layout.groupDataSymbols, symbols - group * layout.groupDataSymbols));
}

/** Byte range [start, end) within its block of data symbol `index` of `group`. */
export function symbolSpan(layout: SessionLayout, block: number, group: number, index: number): { start: number; end: number } {
  const start = (group * layout.groupDataSymbols + index) * layout.symbolSize;
  return { start, end: Math.min(start + layout.symbolSize, blockLength(layout, block)) };
}

/**
 * One number per (block, group), for Map keys: block * 65536 + group. Blocks are below 2^32, so the
 * key stays below 2^48, well within a double's exact integers, and keys order as (block, group).
 */
export function groupKey(block: number, group: number): number {
  return block * 0x10000 + group;
}

export function groupOfKey(key: number): { block: number; group: number } {
  return { block: Math.floor(key / 0x10000), group: key % 0x10000 };
}
