import { MAX_CODE_SYMBOLS, PACKET_OVERHEAD_BYTES, SYMBOL_ADDRESS_BYTES } from '../protocol/constants';
import type { AnnouncePacket, NackEntry, SessionPhase } from '../protocol/packets';
import { SessionLayout, blockCountOf, groupDataCount, groupsInBlock, symbolSpan } from './block-layout';
import { RepairOptions, SenderRepairState, newSenderRepair, reduceSenderRepair, resolveRepairOptions } from './repair';

/**
 * The representative's send loop as a pure reducer `(state, event, now, context) -> { state, effects }`.
 *
 *   gathering --start--> sending --(every block sent once)--> repairing --(no repair for quietMs)--> closing --> closed
 *   repairing | closing --(a NACK that needs parity)--> repairing
 *   any --stop--> closed
 *
 * - Blocks become sendable one by one (`block-ready`): the representative multicasts while its own
 *   WAN download is still running. The first pass sends the lowest ready block not yet sent, group
 *   by group: the k data symbols, then the session's proactive parity of that group.
 * - `tick(now)` returns the packets the rate allows now. Pacing is a virtual clock: each packet moves
 *   the next send time on by its wire time at the rate (IP and UDP headers included) and by at least
 *   the minimum gap; credit for idle time is capped at `burstMs`, so a late timer cannot release a
 *   burst that overruns a switch buffer. With a minimum gap, packets of one tick never share a millisecond.
 * - NACKs go through the repair reducer: per group the max asked over receivers, never the sum,
 *   answered with fresh parity that goes ahead of new data. NACKs for groups the first pass has not
 *   reached are dropped: those symbols are coming anyway.
 * - ANNOUNCE every `announceIntervalMs` (the election's keep-alive) and at once when the phase
 *   changes or the pass waits for the WAN, so receivers learn that the groups before
 *   `sendingBlock` are over and ask for what they lack.
 * - The session ends `quietMs` after the last repair: a few ANNOUNCEs with phase `closing`, then
 *   `closed`. A NACK while closing reopens repair (a late receiver still short of symbols).
 * - `receivers-done` (the adapter heard DONE from every receiver it expects): once the pass is over
 *   and no repair is due, the session closes at once with one closing ANNOUNCE instead of waiting
 *   out `quietMs` for NACKs nobody will send. A NACK after it (a receiver nobody expected) puts the
 *   quiet period back.
 *
 * State: the reducer owns the state it is handed and may update its collections in place (a
 * session sends millions of packets; copying per packet would dominate). Callers keep only the
 * returned state. Time and everything else come in as parameters; nothing here does I/O.
 */

export type SenderSessionPhase = SessionPhase | 'closed';

export interface SenderSessionOptions {
  /** Send rate limit in kbit/s of IP packets; 0 for unlimited. */
  rateKbps: number;
  /** Least time between two packets; 0 for none. */
  minGapMs: number;
  /** Parity symbols sent with every group in the first pass, before any NACK. */
  proactiveParity: number;
  announceIntervalMs: number;
  /** Time without a repair after the first pass before the session closes. */
  quietMs: number;
  closingAnnounces: number;
  closingIntervalMs: number;
  /** Copies of the ANNOUNCE that says the first pass is over (phase repairing), `passEndIntervalMs` apart. */
  passEndAnnounces: number;
  passEndIntervalMs: number;
  /** Idle credit of the pacer. */
  burstMs: number;
  /** Packets one tick may return; more are left for a tick scheduled at once, so the event loop breathes. */
  maxPacketsPerTick: number;
  /** Bytes a symbol packet carries besides its symbol (header, address, tag, CRC). */
  symbolOverheadBytes: number;
}

/**
 * Defaults, resolved once (`resolveSenderSessionOptions`).
 * - Rate 0 (unlimited) and gap 0: the agent settings set both; the protocol needs neither.
 * - Proactive parity 0: parity is sent only for what receivers report lost, so a loss-free LAN
 *   carries exactly the content; a lossy one can set 1-2 to spare a repair round.
 * - Announce every 1,000 ms: the election's keep-alive interval; followers drop a representative
 *   after 4 missed ones.
 * - Quiet 1,500 ms: five of the receivers' repair waits (300 ms), so a receiver whose NACK or
 *   repair was lost has asked again several times before the session gives up on it.
 * - 3 closing ANNOUNCEs 100 ms apart: one lost ANNOUNCE does not leave receivers waiting for the
 *   keep-alive timeout; 100 ms is longer than any LAN's jitter. Once every expected receiver said
 *   DONE the 3 go out back to back: nobody waits for repairs any more, but a late joiner (which
 *   turns to its peers on the closing ANNOUNCE) and any receiver nobody expected still need one.
 * - 3 pass-end ANNOUNCEs 20 ms apart: receivers learn only from it that the last groups are over and
 *   ask for what they lack; one lost would hold them to the next keep-alive (1 s), which at 5 % loss
 *   happens to one of five receivers in a quarter of the sessions. Two more 110-byte datagrams.
 * - Burst 2 ms: a Node timer fires up to a few ms late; 2 ms of credit at 1 Gbit/s is 170 packets,
 *   below the buffers of an ordinary switch port.
 * - 64 packets a tick: about 90 KB, well under a default socket send buffer; the rest goes a tick later.
 * - Symbol overhead: header, address and CRC of a version 1 packet; add AUTH_TAG_BYTES for version 2.
 */
export const DEFAULT_SENDER_SESSION_OPTIONS: SenderSessionOptions = {
  rateKbps: 0,
  minGapMs: 0,
  proactiveParity: 0,
  announceIntervalMs: 1_000,
  quietMs: 1_500,
  closingAnnounces: 3,
  closingIntervalMs: 100,
  passEndAnnounces: 3,
  passEndIntervalMs: 20,
  burstMs: 2,
  maxPacketsPerTick: 64,
  symbolOverheadBytes: PACKET_OVERHEAD_BYTES + SYMBOL_ADDRESS_BYTES,
};

/** IPv4 (20) + UDP (8) headers: the rate limits what the link carries, not only our payload. */
export const IPV4_UDP_HEADER_BYTES = 28;
/** Body (70) plus header and CRC of a version 1 ANNOUNCE; used for pacing only. */
const ANNOUNCE_PACKET_BYTES = 70 + PACKET_OVERHEAD_BYTES;

export function resolveSenderSessionOptions(partial: Partial<SenderSessionOptions> = {}): SenderSessionOptions {
  const options = { ...DEFAULT_SENDER_SESSION_OPTIONS, ...partial };
  for (const [name, value] of Object.entries(options)) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`sender session option ${name} must be a non-negative number, got ${value}`);
  }
  if (options.maxPacketsPerTick < 1 || options.announceIntervalMs <= 0) throw new RangeError('maxPacketsPerTick and announceIntervalMs must be positive');
  if (options.closingAnnounces < 1 || options.passEndAnnounces < 1) throw new RangeError('closingAnnounces and passEndAnnounces must be at least 1');
  return options;
}

export interface SenderSessionContext {
  layout: SessionLayout;
  options: SenderSessionOptions;
  repair: RepairOptions;
  /** What every ANNOUNCE carries besides the progress fields. */
  announce: Pick<AnnouncePacket, 'sessionId' | 'senderId' | 'weight' | 'contentId'>;
}

export function senderSessionContext(
  layout: SessionLayout,
  announce: SenderSessionContext['announce'],
  options: Partial<SenderSessionOptions> = {},
  repair: Partial<RepairOptions> = {},
): SenderSessionContext {
  const resolved = resolveSenderSessionOptions(options);
  if (layout.groupDataSymbols + resolved.proactiveParity > MAX_CODE_SYMBOLS) throw new RangeError('k + proactive parity must be at most 256');
  return { layout, options: resolved, repair: resolveRepairOptions(repair), announce };
}

/** What to put on the wire; the adapter reads the symbol's bytes (or encodes the parity) and sends. */
export type SenderPacket =
  | { kind: 'data'; block: number; group: number; index: number }
  | { kind: 'parity'; block: number; group: number; index: number }
  | { kind: 'announce'; packet: AnnouncePacket };

export interface SenderSessionStats {
  dataSent: number;
  proactiveParitySent: number;
  repairParitySent: number;
  announcesSent: number;
  /** IP bytes, headers included (what the rate limits). */
  bytesSent: number;
  nacksReceived: number;
  nacksIgnored: number;
}

export interface SenderSessionState {
  phase: SenderSessionPhase;
  /** Blocks held and verified by the representative. */
  ready: Uint8Array;
  /** Blocks the first pass has sent whole. */
  sent: Uint8Array;
  /** Ready blocks [0, n): the ANNOUNCE's blocksReady. */
  readyPrefix: number;
  sentCount: number;
  /** Position of the first pass in its block: group and symbol (data 0..k-1, then proactive parity). */
  cursor: { block: number; group: number; symbol: number } | null;
  /** The block the pass last announced it waits for (the WAN is behind), so that it is announced once. */
  waitAnnounced: number;
  /** Repair parity to send ahead of new data. */
  repairQueue: Array<{ block: number; group: number; index: number }>;
  repair: SenderRepairState;
  nextSendAtMs: number;
  nextAnnounceAtMs: number;
  announceSeq: number;
  /** When the last repair was queued (or the first pass ended): the quiet period counts from it. */
  lastRepairMs: number;
  closingSent: number;
  /** Copies of the pass-end ANNOUNCE still to send. */
  passEndLeft: number;
  /** Every expected receiver reported DONE (and no NACK came after): no need to wait out the quiet period. */
  receiversDone: boolean;
  stats: SenderSessionStats;
}

export type SenderSessionEvent =
  | { type: 'start' }
  | { type: 'block-ready'; index: number }
  | { type: 'nack'; entries: readonly NackEntry[] }
  | { type: 'tick' }
  /** Every receiver the caller expects holds the content (their DONE packets). */
  | { type: 'receivers-done' }
  | { type: 'stop' };

export type SenderSessionEffect =
  | { type: 'send'; packet: SenderPacket }
  /** Call `tick` at this time (replaces an earlier request); a time not after now means "at once". */
  | { type: 'schedule'; atMs: number }
  | { type: 'report'; event: 'phase'; phase: SenderSessionPhase }
  | { type: 'report'; event: 'parity-exhausted' | 'nack-invalid'; block: number; group: number }
  /** The session is over: close the socket's session. */
  | { type: 'closed' };

export function newSenderSession(layout: SessionLayout, now: number): SenderSessionState {
  const blocks = blockCountOf(layout);
  return {
    phase: 'gathering',
    ready: new Uint8Array(blocks),
    sent: new Uint8Array(blocks),
    readyPrefix: 0,
    sentCount: 0,
    cursor: null,
    waitAnnounced: -1,
    repairQueue: [],
    repair: newSenderRepair(),
    nextSendAtMs: now,
    nextAnnounceAtMs: now,
    announceSeq: 0,
    lastRepairMs: now,
    closingSent: 0,
    passEndLeft: 0,
    receiversDone: false,
    stats: { dataSent: 0, proactiveParitySent: 0, repairParitySent: 0, announcesSent: 0, bytesSent: 0, nacksReceived: 0, nacksIgnored: 0 },
  };
}

export class SenderSessionError extends Error {
  readonly code = 'LAN_SESSION.ILLEGAL_EVENT';

  constructor(phase: SenderSessionPhase, event: string) {
    super(`event "${event}" is not allowed in sender phase "${phase}"`);
    this.name = 'SenderSessionError';
  }
}

export function reduceSenderSession(
  state: SenderSessionState,
  event: SenderSessionEvent,
  now: number,
  context: SenderSessionContext,
): { state: SenderSessionState; effects: SenderSessionEffect[] } {
  if (state.phase === 'closed') return { state, effects: [] };
  const effects: SenderSessionEffect[] = [];
  switch (event.type) {
    case 'start':
      if (state.phase !== 'gathering') throw new SenderSessionError(state.phase, 'start');
      setPhase(state, 'sending', now, effects);
      break;
    case 'block-ready': {
      const blocks = state.ready.length;
      if (!Number.isInteger(event.index) || event.index < 0 || event.index >= blocks) throw new RangeError(`block ${event.index} is outside 0..${blocks - 1}`);
      if (state.ready[event.index] === 0) {
        state.ready[event.index] = 1;
        while (state.readyPrefix < blocks && state.ready[state.readyPrefix] === 1) state.readyPrefix++;
      }
      break;
    }
    case 'receivers-done':
      state.receiversDone = true;
      break;
    case 'nack': {
      state.stats.nacksReceived++;
      // Someone still lacks symbols: not every receiver is done after all (one nobody expected).
      state.receiversDone = false;
      const entries = passedEntries(state, event.entries, context.layout);
      if (entries.length === 0) {
        state.stats.nacksIgnored++;
        break;
      }
      const result = reduceSenderRepair(state.repair, { type: 'nack', entries }, now, repairContext(context));
      state.repair = result.state;
      takeRepairEffects(state, result.effects, now, effects);
      break;
    }
    case 'tick':
      tick(state, now, context, effects);
      break;
    case 'stop':
      state.phase = 'closed';
      effects.push({ type: 'report', event: 'phase', phase: 'closed' }, { type: 'closed' });
      return { state, effects };
  }
  // `tick` may have closed the session (TypeScript's narrowing cannot see through the call).
  if ((state.phase as SenderSessionPhase) !== 'closed') effects.push({ type: 'schedule', atMs: nextWakeMs(state, now, context) });
  return { state, effects };
}

function repairContext(context: SenderSessionContext) {
  return { options: context.repair, layout: context.layout, proactiveParity: context.options.proactiveParity };
}

function setPhase(state: SenderSessionState, phase: SenderSessionPhase, now: number, effects: SenderSessionEffect[]): void {
  if (state.phase === phase) return;
  state.phase = phase;
  // Receivers learn a phase change at once, not at the next keep-alive.
  state.nextAnnounceAtMs = now;
  if (phase === 'repairing') state.lastRepairMs = now;
  effects.push({ type: 'report', event: 'phase', phase });
}

/** The parts of NACK entries that name groups the first pass has already sent. */
function passedEntries(state: SenderSessionState, entries: readonly NackEntry[], layout: SessionLayout): NackEntry[] {
  const out: NackEntry[] = [];
  for (const entry of entries) {
    if (entry.block >= state.sent.length) {
      // Left to the repair reducer, which reports it invalid.
      out.push(entry);
      continue;
    }
    if (state.sent[entry.block] === 1) {
      out.push(entry);
      continue;
    }
    const cursor = state.cursor;
    if (cursor !== null && cursor.block === entry.block && entry.firstGroup < cursor.group) {
      const groupCount = Math.min(entry.groupCount, cursor.group - entry.firstGroup);
      if (entry.firstGroup + groupCount <= groupsInBlock(layout, entry.block)) out.push({ ...entry, groupCount });
    }
  }
  return out;
}

function takeRepairEffects(state: SenderSessionState, repairEffects: ReturnType<typeof reduceSenderRepair>['effects'], now: number, effects: SenderSessionEffect[]): void {
  for (const effect of repairEffects) {
    if (effect.type === 'send-parity') {
      for (let i = 0; i < effect.count; i++) state.repairQueue.push({ block: effect.block, group: effect.group, index: effect.firstIndex + i });
      state.lastRepairMs = now;
      if (state.phase === 'closing') {
        state.closingSent = 0;
        setPhase(state, 'repairing', now, effects);
      }
    } else if (effect.type === 'report') {
      effects.push({ type: 'report', event: effect.event, block: effect.block, group: effect.group });
    }
    // 'schedule': the flush time lives in the repair state; nextWakeMs reads it.
  }
}

function tick(state: SenderSessionState, now: number, context: SenderSessionContext, effects: SenderSessionEffect[]): void {
  const { options, layout } = context;
  if (state.repair.flushAtMs !== null && now >= state.repair.flushAtMs) {
    const result = reduceSenderRepair(state.repair, { type: 'timer' }, now, repairContext(context));
    state.repair = result.state;
    takeRepairEffects(state, result.effects, now, effects);
  }
  if (state.phase === 'sending' && state.cursor === null) advanceCursor(state);

  // Idle credit is capped: the pacer never owes more than burstMs of sending.
  state.nextSendAtMs = Math.max(state.nextSendAtMs, now - options.burstMs);
  let sentThisTick = 0;
  while (sentThisTick < options.maxPacketsPerTick && state.nextSendAtMs <= now) {
    // ANNOUNCEs due go ahead of symbols; closing ones are counted out at the end of the tick.
    if (now >= state.nextAnnounceAtMs && state.phase !== 'closing') {
      sendAnnounce(state, now, context, effects);
      sentThisTick++;
      continue;
    }
    const packet = nextSymbol(state, layout, options);
    if (packet === null) break;
    effects.push({ type: 'send', packet });
    const bytes = symbolPacketBytes(layout, packet.block, packet.group, packet.kind === 'data' ? packet.index : null, options);
    pace(state, bytes, now, options);
    sentThisTick++;
  }

  if (state.phase === 'sending' && state.cursor === null && state.sentCount === state.sent.length) {
    setPhase(state, 'repairing', now, effects);
    state.passEndLeft = options.passEndAnnounces;
  }
  if (state.phase === 'repairing' && state.repairQueue.length === 0 && state.repair.flushAtMs === null && (state.receiversDone || now - state.lastRepairMs >= options.quietMs)) {
    setPhase(state, 'closing', now, effects);
  }
  if (state.phase === 'closing' && state.closingSent >= options.closingAnnounces && (state.receiversDone || now >= state.nextAnnounceAtMs)) {
    state.phase = 'closed';
    effects.push({ type: 'report', event: 'phase', phase: 'closed' }, { type: 'closed' });
    return;
  }
  // A phase that changed in this tick is announced in it.
  if (now >= state.nextAnnounceAtMs) sendAnnounce(state, now, context, effects);
}

function pace(state: SenderSessionState, packetBytes: number, now: number, options: SenderSessionOptions): void {
  const wireMs = options.rateKbps > 0 ? ((packetBytes + IPV4_UDP_HEADER_BYTES) * 8) / options.rateKbps : 0;
  state.nextSendAtMs = Math.max(state.nextSendAtMs + wireMs, options.minGapMs > 0 ? now + options.minGapMs : -Infinity);
  state.stats.bytesSent += packetBytes + IPV4_UDP_HEADER_BYTES;
}

function sendAnnounce(state: SenderSessionState, now: number, context: SenderSessionContext, effects: SenderSessionEffect[]): void {
  const { layout, options } = context;
  const blocks = state.sent.length;
  const phase: SessionPhase = state.phase === 'closed' ? 'closing' : state.phase;
  const packet: AnnouncePacket = {
    ...context.announce,
    type: 'announce',
    seq: state.announceSeq,
    phase,
    size: layout.size,
    blockSize: layout.blockSize,
    symbolSize: layout.symbolSize,
    groupDataSymbols: layout.groupDataSymbols,
    proactiveParity: options.proactiveParity,
    startDelayMs: 0,
    rateKbps: options.rateKbps,
    blocksReady: state.readyPrefix,
    sendingBlock: state.cursor?.block ?? (state.phase === 'sending' || state.phase === 'gathering' ? lowestUnsent(state) : blocks),
  };
  effects.push({ type: 'send', packet: { kind: 'announce', packet } });
  state.announceSeq = (state.announceSeq + 1) >>> 0;
  state.stats.announcesSent++;
  if (state.phase === 'closing') state.closingSent++;
  let nextInMs = options.announceIntervalMs;
  if (state.phase === 'closing') nextInMs = state.receiversDone ? 0 : options.closingIntervalMs;
  else if (state.phase === 'repairing' && state.passEndLeft > 0 && --state.passEndLeft > 0) nextInMs = options.passEndIntervalMs;
  state.nextAnnounceAtMs = now + nextInMs;
  pace(state, ANNOUNCE_PACKET_BYTES, now, options);
}

function lowestUnsent(state: SenderSessionState): number {
  for (let b = 0; b < state.sent.length; b++) if (state.sent[b] === 0) return b;
  return state.sent.length;
}

/**
 * Moves the cursor to the lowest ready block not yet sent, or null while the WAN is behind. Each new
 * block is announced before its first symbol: a receiver that missed earlier ANNOUNCEs learns the
 * layout within one block, and everyone sees the pass's progress (one 94-byte packet a block).
 */
function advanceCursor(state: SenderSessionState): void {
  for (let b = 0; b < state.sent.length; b++) {
    if (state.sent[b] === 0 && state.ready[b] === 1) {
      state.cursor = { block: b, group: 0, symbol: 0 };
      state.nextAnnounceAtMs = -Infinity;
      return;
    }
  }
  state.cursor = null;
}

/** The next packet: repair parity first, then the first pass. Advances the state past it. */
function nextSymbol(state: SenderSessionState, layout: SessionLayout, options: SenderSessionOptions): Extract<SenderPacket, { kind: 'data' | 'parity' }> | null {
  const repair = state.repairQueue.shift();
  if (repair !== undefined) {
    state.stats.repairParitySent++;
    return { kind: 'parity', ...repair };
  }
  if (state.phase !== 'sending') return null;
  if (state.cursor === null) advanceCursor(state);
  const cursor = state.cursor;
  if (cursor === null) {
    // Waiting for the WAN: tell receivers now (once) that the blocks before this one are over.
    const waiting = lowestUnsent(state);
    if (state.sentCount > 0 && waiting < state.sent.length && state.waitAnnounced !== waiting) {
      state.waitAnnounced = waiting;
      state.nextAnnounceAtMs = state.nextSendAtMs;
    }
    return null;
  }
  const k = groupDataCount(layout, cursor.block, cursor.group);
  const { block, group, symbol } = cursor;
  const packet: Extract<SenderPacket, { kind: 'data' | 'parity' }> =
    symbol < k ? { kind: 'data', block, group, index: symbol } : { kind: 'parity', block, group, index: symbol - k };
  if (packet.kind === 'data') state.stats.dataSent++;
  else state.stats.proactiveParitySent++;
  cursor.symbol++;
  if (cursor.symbol >= k + options.proactiveParity) {
    cursor.group++;
    cursor.symbol = 0;
    if (cursor.group >= groupsInBlock(layout, block)) {
      state.sent[block] = 1;
      state.sentCount++;
      state.cursor = null;
      advanceCursor(state);
    }
  }
  return packet;
}

/** Bytes of a symbol packet: a data symbol's own length, or a parity symbol's (the group's longest, its first). */
export function symbolPacketBytes(layout: SessionLayout, block: number, group: number, dataIndex: number | null, options: Pick<SenderSessionOptions, 'symbolOverheadBytes'>): number {
  const span = symbolSpan(layout, block, group, dataIndex ?? 0);
  return span.end - span.start + options.symbolOverheadBytes;
}

/** When the session next wants a tick. */
function nextWakeMs(state: SenderSessionState, now: number, context: SenderSessionContext): number {
  const { options } = context;
  // ANNOUNCEs are paced like symbols, except closing ones (a handful, at the end).
  let at = state.phase === 'closing' ? state.nextAnnounceAtMs : Math.max(state.nextAnnounceAtMs, state.nextSendAtMs);
  const hasWork = state.repairQueue.length > 0 || (state.phase === 'sending' && (state.cursor !== null || hasUnsentReady(state)));
  if (hasWork) at = Math.min(at, Math.max(state.nextSendAtMs, now));
  if (state.repair.flushAtMs !== null) at = Math.min(at, state.repair.flushAtMs);
  if (state.phase === 'repairing' && state.repairQueue.length === 0) at = Math.min(at, state.lastRepairMs + options.quietMs);
  if (state.phase === 'sending' && state.cursor === null && state.sentCount === state.sent.length) at = now;
  if (state.receiversDone && (state.phase === 'closing' || (state.phase === 'repairing' && state.repairQueue.length === 0 && state.repair.flushAtMs === null))) at = now;
  return Math.max(at, now);
}

function hasUnsentReady(state: SenderSessionState): boolean {
  for (let b = 0; b < state.sent.length; b++) if (state.sent[b] === 0 && state.ready[b] === 1) return true;
  return false;
}
