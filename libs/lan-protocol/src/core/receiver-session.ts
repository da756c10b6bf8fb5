import type { AnnouncePacket, NackEntry } from '../protocol/packets';
import { nackEntriesFitting } from '../protocol/symbol-size';
import { SessionLayout, blockCountOf, blockLength, groupDataCount, groupKey, groupsInBlock, symbolSpan } from './block-layout';
import { createErasureCoder } from './fec';
import { GroupNeed, ReceiverRepairEffect, ReceiverRepairState, RepairOptions, newReceiverRepair, reduceReceiverRepair } from './repair';

/**
 * One receiver of a multicast session as a pure reducer `(state, event, now, context) -> { state, effects }`.
 *
 * - Symbols (DATA and PARITY) are kept per FEC group; when k distinct ones are present the reducer
 *   emits `decode-group` and the adapter answers with `group-decoded` (the group's bytes, from
 *   `decodeGroupBytes`). When every group of a block is decoded, the block is assembled and checked
 *   with `context.verify` (SHA-256 against the manifest from the control plane): `block-complete`,
 *   or `block-rejected` and every group of the block reopened (asked for again in full, by fresh parity).
 * - The receiver joins where it first hears the session (the block being sent, or block 0 while the
 *   session gathers). From there, a group is *passed* once a DATA symbol of a later group arrives or
 *   an ANNOUNCE names a later sending block; passed groups that lack symbols go to the repair
 *   reducer, which NACKs them with suppression. Blocks before the join point are never NACKed: a late
 *   joiner must not make the whole subnet carry the content again; it reports them missing and
 *   fetches them from peers or the origin.
 * - The session ends for this receiver when every wanted block is complete (`finished`, nothing
 *   missing) or the sender announces `closing` (`finished` with the blocks still missing).
 * - A late joiner that holds everything from its join point on once the pass is over needs nothing
 *   more from the session: `session-done` (once), so that it says DONE and the sender need not wait
 *   out its quiet period for a receiver that will never complete from it. It keeps listening until
 *   `closing`: its peers are complete only once the sender closes, and that is when it turns to them.
 *
 * Like the sender, the reducer owns the state it is handed and updates its collections in place.
 */

export type ReceiverSessionPhase = 'listening' | 'finished';

export interface ReceiverSessionContext {
  layout: SessionLayout;
  repair: RepairOptions;
  /** Uniform in [0, 1): the NACK back-off's randomness. */
  random: () => number;
  /** Whether block `index` has exactly these bytes per the manifest (verifyBlock). */
  verify: (index: number, bytes: Uint8Array) => boolean;
}

interface GroupSymbols {
  /** Symbol index (data 0..k-1, parity k + i) -> payload, copied out of the datagram into a slab. */
  symbols: Map<number, Uint8Array>;
  /**
   * Symbol-sized slots, filled in arrival order; when they are used up the next slab has as many
   * slots as the group holds symbols (1, 1, 2, 4, ... up to k in all): about log2(k) allocations a
   * group instead of one per symbol, and never more than twice the memory of the symbols held (a
   * receiver holding one symbol of each of many groups costs what it did). An allocation per symbol
   * (`slice`) was most of this reducer's time, about a tenth of a receiver's
   * (scripts/bench-receive-path.mjs).
   */
  slab: Uint8Array;
  slabUsed: number;
  decoding: boolean;
}

export interface ReceiverSessionStats {
  symbolsReceived: number;
  duplicateSymbols: number;
  /** Symbols of blocks not wanted or already complete, or of groups already decoded. */
  uselessSymbols: number;
  groupsDecoded: number;
  blocksCompleted: number;
  blocksRejected: number;
}

export interface ReceiverSessionState {
  phase: ReceiverSessionPhase;
  /** Blocks this receiver still wants (not held from another source, not yet complete). */
  wanted: Uint8Array;
  wantedLeft: number;
  /** First group key this receiver heard the session at; null until it hears anything. */
  joinKey: number | null;
  /** Groups with keys below this are passed (the sender has moved beyond them). */
  passedKey: number;
  groups: Map<number, GroupSymbols>;
  /** Decoded group bytes of blocks not yet complete: block -> bytes per group. */
  decoded: Map<number, Array<Uint8Array | null>>;
  repair: ReceiverRepairState;
  /** `session-done` was emitted. */
  sessionDone: boolean;
  stats: ReceiverSessionStats;
}

export type ReceiverSessionEvent =
  | { type: 'symbol'; kind: 'data' | 'parity'; block: number; group: number; index: number; payload: Uint8Array }
  | { type: 'announce'; packet: Pick<AnnouncePacket, 'phase' | 'sendingBlock'> }
  | { type: 'group-decoded'; block: number; group: number; bytes: Uint8Array }
  /** Another receiver's NACK (suppression). */
  | { type: 'nack-heard'; entries: readonly NackEntry[] }
  | { type: 'timer' };

export type ReceiverSessionEffect =
  /** Decode these k symbols (`decodeGroupBytes`) and feed back `group-decoded`. */
  | { type: 'decode-group'; block: number; group: number; symbols: ReadonlyMap<number, Uint8Array> }
  /** Verified against the manifest: write it. */
  | { type: 'block-complete'; index: number; bytes: Uint8Array }
  /** Assembled bytes failed the manifest: dropped, its groups reopened. */
  | { type: 'block-rejected'; index: number }
  | { type: 'send-nack'; entries: NackEntry[] }
  | { type: 'schedule'; atMs: number }
  | { type: 'cancel' }
  | { type: 'report'; event: 'nack-suppressed' }
  /** No more from this session: `missing` lists the wanted blocks not received (ascending). */
  | { type: 'finished'; missing: number[] }
  /**
   * The session will send nothing more this receiver asks for: the pass is over and it holds every
   * wanted block from its join point on; `missing` (before the join point) come from elsewhere
   * after `finished`. Say DONE; keep listening.
   */
  | { type: 'session-done'; missing: number[] };

/** A receiver wanting `wanted` blocks (the others it holds already). */
export function newReceiverSession(layout: SessionLayout, wanted: readonly number[]): ReceiverSessionState {
  const blocks = blockCountOf(layout);
  const flags = new Uint8Array(blocks);
  let wantedLeft = 0;
  for (const index of wanted) {
    if (!Number.isInteger(index) || index < 0 || index >= blocks) throw new RangeError(`wanted block ${index} is outside 0..${blocks - 1}`);
    if (flags[index] === 0) wantedLeft++;
    flags[index] = 1;
  }
  return {
    phase: wantedLeft === 0 ? 'finished' : 'listening',
    wanted: flags,
    wantedLeft,
    joinKey: null,
    passedKey: 0,
    groups: new Map(),
    decoded: new Map(),
    repair: newReceiverRepair(),
    sessionDone: false,
    stats: { symbolsReceived: 0, duplicateSymbols: 0, uselessSymbols: 0, groupsDecoded: 0, blocksCompleted: 0, blocksRejected: 0 },
  };
}

export function reduceReceiverSession(
  state: ReceiverSessionState,
  event: ReceiverSessionEvent,
  now: number,
  context: ReceiverSessionContext,
): { state: ReceiverSessionState; effects: ReceiverSessionEffect[] } {
  if (state.phase === 'finished') return { state, effects: [] };
  const effects: ReceiverSessionEffect[] = [];
  const changes: GroupNeed[] = [];
  const { layout } = context;
  const blocks = state.wanted.length;

  switch (event.type) {
    case 'symbol': {
      const { block, group, index } = event;
      // Out-of-layout addresses come only from a buggy or hostile sender: ignore them.
      if (block >= blocks) break;
      // The layout's arithmetic spelled out once for the block (groupsInBlock, groupDataCount and
      // symbolSpan would each work out the block's length again, with an object apiece): this runs
      // for every symbol of the session.
      const { symbolSize, groupDataSymbols } = layout;
      const length = blockLength(layout, block);
      const symbols = Math.ceil(length / symbolSize);
      if (group >= Math.ceil(symbols / groupDataSymbols)) break;
      const k = Math.min(groupDataSymbols, symbols - group * groupDataSymbols);
      const symbolIndex = event.kind === 'data' ? index : k + index;
      // Lengths are fixed by the layout: a data symbol has its span's, a parity symbol the group's longest (its first).
      const spanIndex = event.kind === 'data' ? index : 0;
      if (event.kind === 'data' && index >= k) break;
      if (event.payload.length !== Math.min(symbolSize, length - (group * groupDataSymbols + spanIndex) * symbolSize)) break;
      const key = groupKey(block, group);
      // Only the first pass (DATA) says where the session is; parity may repair a group long passed.
      if (state.joinKey === null && event.kind === 'data') state.joinKey = groupKey(block, 0);
      state.stats.symbolsReceived++;
      // A DATA symbol marks how far the first pass is; parity may be a repair of an old group.
      if (event.kind === 'data' && state.joinKey !== null) pass(state, key, layout, changes);
      if (state.wanted[block] === 0) {
        state.stats.uselessSymbols++;
        break;
      }
      let entry = state.groups.get(key);
      const decodedBlock = state.decoded.get(block);
      if (decodedBlock?.[group] != null || entry?.decoding === true) {
        state.stats.uselessSymbols++;
        break;
      }
      if (entry === undefined) {
        entry = { symbols: new Map(), slab: new Uint8Array(symbolSize), slabUsed: 0, decoding: false };
        state.groups.set(key, entry);
      }
      if (entry.symbols.has(symbolIndex)) {
        state.stats.duplicateSymbols++;
        break;
      }
      // Copied: the payload is a view into a datagram buffer the socket may reuse.
      if (entry.slabUsed * symbolSize >= entry.slab.length) {
        entry.slab = new Uint8Array(Math.max(1, Math.min(entry.symbols.size, k - entry.symbols.size)) * symbolSize);
        entry.slabUsed = 0;
      }
      const at = entry.slabUsed++ * symbolSize;
      const copy = entry.slab.subarray(at, at + event.payload.length);
      copy.set(event.payload);
      entry.symbols.set(symbolIndex, copy);
      if (entry.symbols.size >= k) {
        entry.decoding = true;
        effects.push({ type: 'decode-group', block, group, symbols: entry.symbols });
        if (key < state.passedKey) changes.push({ block, group, missing: 0 });
      } else if (key < state.passedKey && isJoined(state, key)) {
        changes.push({ block, group, missing: k - entry.symbols.size });
      }
      break;
    }

    case 'announce': {
      const { phase, sendingBlock } = event.packet;
      const through = phase === 'sending' ? Math.min(sendingBlock, blocks) : phase === 'gathering' ? 0 : blocks;
      if (state.joinKey === null) state.joinKey = groupKey(through, 0);
      pass(state, groupKey(through, 0), layout, changes);
      if (phase === 'closing') {
        finish(state, effects);
        return { state, effects };
      }
      checkSessionDone(state, effects);
      break;
    }

    case 'group-decoded': {
      const { block, group, bytes } = event;
      const key = groupKey(block, group);
      const entry = state.groups.get(key);
      if (entry === undefined || !entry.decoding) break;
      state.groups.delete(key);
      state.stats.groupsDecoded++;
      const groups = groupsInBlock(layout, block);
      let decoded = state.decoded.get(block);
      if (decoded === undefined) {
        decoded = new Array<Uint8Array | null>(groups).fill(null);
        state.decoded.set(block, decoded);
      }
      decoded[group] = bytes;
      if (decoded.some((g) => g === null)) break;
      state.decoded.delete(block);
      const assembled = concat(decoded, blockLength(layout, block));
      if (assembled !== null && context.verify(block, assembled)) {
        state.wanted[block] = 0;
        state.wantedLeft--;
        state.stats.blocksCompleted++;
        effects.push({ type: 'block-complete', index: block, bytes: assembled });
        if (state.wantedLeft === 0) {
          finish(state, effects);
          return { state, effects };
        }
        checkSessionDone(state, effects);
      } else {
        state.stats.blocksRejected++;
        effects.push({ type: 'block-rejected', index: block });
        // Every symbol of the block is suspect: ask for the whole block again, as fresh parity.
        for (let g = 0; g < groups; g++) {
          const k = groupDataCount(layout, block, g);
          if (groupKey(block, g) < state.passedKey && isJoined(state, groupKey(block, g))) changes.push({ block, group: g, missing: k });
        }
      }
      break;
    }

    case 'nack-heard':
      return withRepair(state, { type: 'nack-heard', entries: event.entries }, now, context, effects);

    case 'timer':
      return withRepair(state, { type: 'timer' }, now, context, effects);
  }
  if (changes.length > 0) return withRepair(state, { type: 'needs', changes }, now, context, effects);
  return { state, effects };
}

/** Marks every group below `key` passed; each wanted one that lacks symbols becomes a need. */
function pass(state: ReceiverSessionState, key: number, layout: SessionLayout, changes: GroupNeed[]): void {
  if (key <= state.passedKey) return;
  const blocks = state.wanted.length;
  const from = Math.max(state.passedKey, state.joinKey ?? key);
  let block = Math.floor(from / 0x10000);
  let group = from % 0x10000;
  while (block < blocks && groupKey(block, group) < key) {
    const groups = groupsInBlock(layout, block);
    if (state.wanted[block] === 0 || group >= groups) {
      block++;
      group = 0;
      continue;
    }
    const k = groupDataCount(layout, block, group);
    const entry = state.groups.get(groupKey(block, group));
    const decoded = state.decoded.get(block)?.[group] != null || entry?.decoding === true;
    const missing = decoded ? 0 : k - (entry?.symbols.size ?? 0);
    if (missing > 0) changes.push({ block, group, missing });
    group++;
  }
  state.passedKey = key;
}

/** Emits `session-done` once the pass is over and every wanted block left lies before the join point. */
function checkSessionDone(state: ReceiverSessionState, effects: ReceiverSessionEffect[]): void {
  const blocks = state.wanted.length;
  if (state.sessionDone || state.joinKey === null || state.wantedLeft === 0 || state.passedKey < groupKey(blocks, 0)) return;
  const missing: number[] = [];
  for (let b = 0; b < blocks; b++) {
    if (state.wanted[b] === 0) continue;
    // A wanted block at or after the join point is still being repaired by the session.
    if (groupKey(b, 0) >= state.joinKey) return;
    missing.push(b);
  }
  state.sessionDone = true;
  effects.push({ type: 'session-done', missing });
}

function isJoined(state: ReceiverSessionState, key: number): boolean {
  return state.joinKey !== null && key >= state.joinKey;
}

function concat(parts: ReadonlyArray<Uint8Array | null>, length: number): Uint8Array | null {
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    if (part === null || at + part.length > length) return null;
    out.set(part, at);
    at += part.length;
  }
  return at === length ? out : null;
}

function finish(state: ReceiverSessionState, effects: ReceiverSessionEffect[]): void {
  const missing: number[] = [];
  for (let b = 0; b < state.wanted.length; b++) if (state.wanted[b] === 1) missing.push(b);
  state.phase = 'finished';
  state.groups.clear();
  state.decoded.clear();
  if (state.repair.timer !== null) effects.push({ type: 'cancel' });
  effects.push({ type: 'finished', missing });
}

function withRepair(
  state: ReceiverSessionState,
  event: Parameters<typeof reduceReceiverRepair>[1],
  now: number,
  context: ReceiverSessionContext,
  effects: ReceiverSessionEffect[],
): { state: ReceiverSessionState; effects: ReceiverSessionEffect[] } {
  const result = reduceReceiverRepair(state.repair, event, now, { options: context.repair, random: context.random, maxNackEntries: nackEntriesFitting(context.layout.symbolSize) });
  state.repair = result.state;
  for (const effect of result.effects as ReceiverRepairEffect[]) effects.push(effect);
  return { state, effects };
}

/**
 * The bytes of a group from k of its symbols: data symbols in order, the block's last one trimmed
 * to its true length. Pure CPU work, kept out of the reducer so that an adapter may run it elsewhere.
 */
export function decodeGroupBytes(layout: SessionLayout, block: number, group: number, symbols: ReadonlyMap<number, Uint8Array>): Uint8Array | null {
  const k = groupDataCount(layout, block, group);
  const data = createErasureCoder(k, 0).decode(symbols);
  if (data === null) return null;
  const first = symbolSpan(layout, block, group, 0).start;
  const last = symbolSpan(layout, block, group, k - 1).end;
  const out = new Uint8Array(last - first);
  for (let i = 0; i < k; i++) {
    const { start, end } = symbolSpan(layout, block, group, i);
    const symbol = data[i];
    if (symbol.length < end - start) return null;
    out.set(symbol.subarray(0, end - start), start - first);
  }
  return out;
}
