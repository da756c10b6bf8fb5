import { Manifest, verifyAndSealBlock } from '@fleetcast/content';
import {
  AUTH_TAG_BYTES,
  AnnouncePacket,
  DEFAULT_REPAIR_OPTIONS,
  IPV4_UDP_HEADER_BYTES,
  PACKET_OVERHEAD_BYTES,
  REPORT_LOSS_SCALE,
  RateControlOptions,
  ReceiverFeedbackContext,
  ReceiverFeedbackState,
  ReportPacket,
  SYMBOL_ADDRESS_BYTES,
  DonePacket,
  NackPacket,
  Packet,
  ReceiverSessionContext,
  ReceiverSessionEffect,
  ReceiverSessionEvent,
  ReceiverSessionState,
  RepairOptions,
  SessionLayout,
  blockCountOf,
  decodeGroupBytes,
  layoutError,
  newReceiverFeedback,
  newReceiverSession,
  noteSymbol,
  reduceReceiverFeedback,
  reduceReceiverSession,
  resolveRateControlOptions,
  resolveRepairOptions,
  suppressesFor,
  senderIdOf,
  sessionIdOf,
} from '@fleetcast/lan-protocol';
import { DownloadAbortedError, DownloadSource, DownloadSourceError, FetchBlocksRequest } from '../core/download-source';
import { MulticastPort, SessionBinding } from './udp-multicast';

/**
 * Stable codes of a multicast fetch that ended short. They belong in the agent's error codes (or the
 * contracts) once the daemon reports them; until then this source is their only producer.
 */
export const MulticastSourceErrorCode = {
  /** The sender closed the session (or fell silent) with wanted blocks not received. */
  Incomplete: 'MULTICAST.INCOMPLETE',
} as const;

/**
 * The session ended before every wanted block arrived. Retryable: the caller fetches `missing`
 * from peers, then the origin. Blocks received before it stay delivered.
 */
export class MulticastIncompleteError extends DownloadSourceError {
  constructor(
    readonly missing: readonly number[],
    readonly reason: 'closed' | 'silent',
  ) {
    super(
      MulticastSourceErrorCode.Incomplete,
      `multicast session ${reason === 'closed' ? 'closed' : 'fell silent'} with ${missing.length} block(s) missing: ${summarize(missing)}`,
      true,
    );
    this.name = 'MulticastIncompleteError';
  }
}

export interface MulticastSourceOptions {
  /** The agent's multicast socket (one per interface, shared by its tasks), or the task's session mux. */
  socket: MulticastPort;
  taskId: string;
  deviceId: string;
  /** The task's LAN key (from the control plane, over NATS); null only for an unauthenticated lab run. */
  lanKey: Uint8Array | null;
  /** No packet of the session for this long ends the fetch with what is missing. */
  silenceTimeoutMs?: number;
  /**
   * The sender ID of the representative this receiver follows. When set, only its DATA, PARITY and
   * ANNOUNCE feed the session and only its packets count against the silence timeout: after a
   * failover the receiver state (join point, passed groups) belongs to one sender's pass, and the
   * tail of a representative that stepped down must not advance it.
   */
  representativeId?: string;
  repair?: Partial<RepairOptions>;
  /** Uniform in [0, 1): the NACK back-off's randomness. */
  random?: () => number;
  /**
   * Whether the receiver says DONE itself once it holds every wanted block (default true). A LAN
   * download says it after its PEER_HAVE instead (`sendDoneCopies`), so that a late joiner knows its
   * peers by the time the session closes.
   */
  doneOnComplete?: boolean;
  /**
   * Congestion feedback (`core/rate-control.ts`): a REPORT every interval, and a receiver far slower
   * than the rest stops NACKing. On unless false: then no REPORT, and every NACK heard holds ours.
   */
  congestion?: Partial<RateControlOptions> | false;
}

/**
 * Silence timeout 5 s: four missed keep-alives of the representative (1 s each, the election's own
 * measure of a dead representative) plus a second of margin. Past it the fetch ends with what is
 * missing; the caller waits for the election's successor and joins its session, or, when none comes
 * forward, takes the rest from peers and the origin.
 */
export const MULTICAST_SOURCE_DEFAULTS = { silenceTimeoutMs: 5_000 };

/**
 * Symbols kept while the layout is unknown (no ANNOUNCE heard yet), replayed once it is: 2,048
 * full symbols are ~2.9 MB, more than the packets between two ANNOUNCEs of the first pass (one a
 * block, 749 symbols of a 1 MiB block), so a receiver that missed an ANNOUNCE loses nothing.
 */
export const EARLY_PACKET_LIMIT = 2048;

/** Copies of a receiver's DONE (see `sendDoneCopies`). */
export const DONE_COPIES = 3;

/**
 * Received payload bytes are reported to `onProgress` in sums of at least this many, and at the
 * end of the fetch: the daemon's progress counters cost a labelled metric update per call, once per
 * datagram before; 256 KiB is a fraction of a second of a session at any LAN rate.
 */
const PROGRESS_REPORT_BYTES = 256 * 1024;

export interface MulticastSourceStats {
  packetsHeard: number;
  /** Packets of this session that failed to decode, by code (BAD_AUTH: forgeries). */
  invalid: Record<string, number>;
  announcesIgnored: number;
  blocksDelivered: number;
  blocksRejected: number;
  nacksSent: number;
  nacksSuppressed: number;
  reportsSent: number;
  /** NACKs not sent because this receiver declared itself behind (far slower than the rest). */
  nacksWithheld: number;
  /** Whether the last session found this receiver far slower than the rest (it then takes the rest from peers). */
  behind: boolean;
}

/**
 * A receiver of a task's subnet multicast session as a DownloadSource: joins the session on the
 * shared socket, feeds the receiver reducer, writes each verified block through the sink, and
 * resolves when every wanted block arrived; when the session closes or falls silent first it rejects
 * with MulticastIncompleteError listing what is missing.
 *
 * The session layout (symbol size, k) comes from the representative's ANNOUNCE, checked against
 * the manifest from the control plane (content ID, size, block size): until one is heard, symbols
 * are not kept.
 */
export class MulticastSource implements DownloadSource {
  readonly kind = 'multicast' as const;
  readonly stats: MulticastSourceStats = { packetsHeard: 0, invalid: {}, announcesIgnored: 0, blocksDelivered: 0, blocksRejected: 0, nacksSent: 0, nacksSuppressed: 0, reportsSent: 0, nacksWithheld: 0, behind: false };
  private readonly repair: RepairOptions;

  constructor(private readonly options: MulticastSourceOptions) {
    this.repair = resolveRepairOptions(options.repair ?? DEFAULT_REPAIR_OPTIONS);
  }

  fetchBlocks(request: FetchBlocksRequest): Promise<void> {
    if (request.signal.aborted) return Promise.reject(new DownloadAbortedError());
    if (request.blocks.length === 0) return Promise.resolve();
    return new MulticastReceive(this.options, this.repair, this.stats, request).done;
  }
}

/**
 * The session's layout from an ANNOUNCE, or null when it is not this content's (another package, a
 * size or block size other than the manifest's) or cannot be laid out. The manifest comes from the
 * control plane; only the symbol size and the group size are the representative's choice.
 */
export function announcedLayout(packet: AnnouncePacket, manifest: Pick<Manifest, 'contentId' | 'size' | 'blockSize'>): SessionLayout | null {
  if (!sameContent(packet, manifest)) return null;
  const layout: SessionLayout = { size: packet.size, blockSize: packet.blockSize, symbolSize: packet.symbolSize, groupDataSymbols: packet.groupDataSymbols };
  return layoutError(layout) === null ? layout : null;
}

function sameContent(packet: AnnouncePacket, manifest: Pick<Manifest, 'contentId' | 'size' | 'blockSize'>): boolean {
  return packet.contentId === manifest.contentId && packet.size === manifest.size && packet.blockSize === manifest.blockSize;
}

/** The packets a receiver reads: its sender's pass, and the other receivers' NACKs (suppression) and REPORTs (who is far slower). */
const RECEIVER_PACKETS: readonly Packet['type'][] = ['announce', 'data', 'parity', 'nack', 'report'];

/**
 * One fetch from the session: joins it, feeds the receiver reducer (`reduceReceiverSession`) and
 * carries out its effects, keeps symbols heard before the first ANNOUNCE, and ends the fetch when the
 * reducer says so, the session falls silent, the sink refuses a block or the caller aborts.
 */
class MulticastReceive {
  readonly done: Promise<void>;
  private resolve!: () => void;
  private reject!: (error: unknown) => void;
  private readonly sessionId: string;
  private readonly senderId: string;
  private readonly silenceMs: number;
  private readonly random: () => number;
  private readonly binding: SessionBinding;
  private state: ReceiverSessionState | null = null;
  private context: ReceiverSessionContext | null = null;
  private repairTimer: NodeJS.Timeout | null = null;
  private silenceTimer: NodeJS.Timeout | null = null;
  private lastHeardMs = performance.now();
  /** Blocks handed to the sink, in order: the fetch resolves once every one is written. */
  private writes: Promise<void> = Promise.resolve();
  private settled = false;
  /** Payload bytes received and not yet reported to `onProgress`. */
  private unreported = 0;
  private readonly early: Packet[] = [];
  private readonly queue: ReceiverSessionEvent[] = [];
  /** Congestion feedback, once the layout is known; null when off. */
  private feedback: { state: ReceiverFeedbackState; context: ReceiverFeedbackContext; timer: NodeJS.Timeout } | null = null;
  /** IP bytes a symbol packet carries besides its symbol: what the sender's rate counts. */
  private readonly symbolOverheadBytes: number;

  constructor(
    private readonly options: MulticastSourceOptions,
    private readonly repair: RepairOptions,
    private readonly stats: MulticastSourceStats,
    private readonly request: FetchBlocksRequest,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.sessionId = sessionIdOf(options.taskId);
    this.senderId = senderIdOf(options.deviceId);
    this.silenceMs = options.silenceTimeoutMs ?? MULTICAST_SOURCE_DEFAULTS.silenceTimeoutMs;
    this.random = options.random ?? Math.random;
    this.symbolOverheadBytes = IPV4_UDP_HEADER_BYTES + PACKET_OVERHEAD_BYTES + SYMBOL_ADDRESS_BYTES + (options.lanKey === null ? 0 : AUTH_TAG_BYTES);
    request.signal.addEventListener('abort', this.onAbort);
    this.binding = options.socket.join(this.sessionId, options.lanKey, {
      onPacket: (packet) => this.onPacket(packet),
      // Our own NACKs and DONEs come back through multicast loopback: not worth a decode.
      localSenderId: this.senderId,
      onInvalid: (code) => {
        stats.invalid[code] = (stats.invalid[code] ?? 0) + 1;
      },
      accepts: RECEIVER_PACKETS,
    });
    // One timer for the whole fetch, not one per packet: it re-arms itself for what is left of the silence.
    this.silenceTimer = setTimeout(this.checkSilence, this.silenceMs);
  }

  private readonly onAbort = () => this.end(new DownloadAbortedError());

  private readonly checkSilence = () => {
    const quietFor = performance.now() - this.lastHeardMs;
    if (quietFor < this.silenceMs) {
      this.silenceTimer = setTimeout(this.checkSilence, this.silenceMs - quietFor);
      return;
    }
    const missing = this.state === null ? [...this.request.blocks].sort((a, b) => a - b) : missingOf(this.state);
    this.end(new MulticastIncompleteError(missing, 'silent'));
  };

  private onPacket(packet: Packet): void {
    if (packet.senderId === this.senderId) return;
    const representativeId = this.options.representativeId;
    const fromOther = representativeId !== undefined && packet.senderId !== representativeId;
    // Other receivers' NACKs and REPORTs still count; another sender's pass does not.
    if (fromOther && packet.type !== 'nack' && packet.type !== 'report') return;
    this.stats.packetsHeard++;
    if (!fromOther) this.lastHeardMs = performance.now();
    if (packet.type !== 'announce') return this.onTransfer(packet);
    if (this.state === null) {
      const layout = announcedLayout(packet, this.request.manifest);
      if (layout === null) {
        this.stats.announcesIgnored++;
        return;
      }
      this.state = newReceiverSession(layout, this.request.blocks);
      // Made once per fetch, not per packet: every symbol of the session goes through `apply`.
      const { manifest } = this.request;
      // Sealed: the assembled block is made for the sink alone, which then need not hash it again.
      this.context = { layout, repair: this.repair, random: this.random, verify: (index, bytes) => verifyAndSealBlock(manifest, index, bytes) };
      this.startFeedback(layout);
      // Symbols first: the first DATA heard, not this ANNOUNCE, is where this receiver joined.
      for (const held of this.early.splice(0)) this.onTransfer(held);
    } else if (!sameContent(packet, this.request.manifest)) {
      this.stats.announcesIgnored++;
      return;
    }
    this.apply({ type: 'announce', packet });
  }

  private onTransfer(packet: Packet): void {
    if (this.state === null) {
      if ((packet.type === 'data' || packet.type === 'parity') && this.early.length < EARLY_PACKET_LIMIT) this.early.push(packet);
      return;
    }
    if (packet.type === 'data' || packet.type === 'parity') {
      this.unreported += packet.payload.length;
      if (this.unreported >= PROGRESS_REPORT_BYTES) this.reportProgress();
      if (this.feedback !== null) noteSymbol(this.feedback.state, this.feedback.context.layout, packet.type, packet.block, packet.group, packet.index, packet.payload.length + this.symbolOverheadBytes);
      this.apply({ type: 'symbol', kind: packet.type, block: packet.block, group: packet.group, index: packet.index, payload: packet.payload });
    } else if (packet.type === 'nack') {
      // A receiver far slower than the rest, or behind, is not repaired by the sender: its NACK must not hold ours.
      if (this.feedback === null || suppressesFor(this.feedback.state, packet.senderId)) this.apply({ type: 'nack-heard', entries: packet.entries });
    } else if (packet.type === 'report' && this.feedback !== null) {
      const event = { type: 'report-heard' as const, receiverId: packet.senderId, lossFraction: packet.lossPermyriad / REPORT_LOSS_SCALE, receiveKbps: packet.receiveKbps, behind: packet.behind };
      reduceReceiverFeedback(this.feedback.state, event, performance.now(), this.feedback.context);
    }
  }

  private startFeedback(layout: SessionLayout): void {
    if (this.options.congestion === false) return;
    const options = resolveRateControlOptions(this.options.congestion);
    const timer = setInterval(this.reportTick, options.intervalMs);
    this.feedback = { state: newReceiverFeedback(performance.now()), context: { layout, selfId: this.senderId, options }, timer };
  }

  private readonly reportTick = () => {
    if (this.feedback === null || this.settled) return;
    const { effects } = reduceReceiverFeedback(this.feedback.state, { type: 'tick' }, performance.now(), this.feedback.context);
    for (const effect of effects) {
      if (effect.type === 'behind') this.stats.behind = true;
      else {
        this.stats.reportsSent++;
        const { intervalMs, lossPermyriad, receiveKbps, behind } = effect;
        this.binding.send({ type: 'report', sessionId: this.sessionId, senderId: this.senderId, intervalMs, lossPermyriad, receiveKbps, behind } satisfies ReportPacket);
      }
    }
  };

  /** `notBefore`: a timer's due time. Node's timers run on a coarser clock and may fire a fraction of a millisecond early; the reducer ignores an early timer, which would leave it unarmed. */
  private apply(event: ReceiverSessionEvent, notBefore = 0): void {
    if (this.state === null || this.context === null || this.settled) return;
    let next: ReceiverSessionEvent | undefined = event;
    while (next !== undefined && !this.settled) {
      const result = reduceReceiverSession(this.state, next, Math.max(performance.now(), notBefore), this.context);
      this.state = result.state;
      for (const effect of result.effects) this.carryOut(effect, this.context.layout);
      next = this.queue.shift();
    }
  }

  private carryOut(effect: ReceiverSessionEffect, layout: SessionLayout): void {
    switch (effect.type) {
      case 'decode-group': {
        const bytes = decodeGroupBytes(layout, effect.block, effect.group, effect.symbols);
        // k symbols always decode (MDS); null only for symbols of inconsistent lengths, which the reducer screens out.
        if (bytes !== null) this.queue.unshift({ type: 'group-decoded', block: effect.block, group: effect.group, bytes });
        return;
      }
      case 'block-complete': {
        const { index, bytes } = effect;
        this.writes = this.writes.then(() => this.request.sink(index, bytes));
        // A refusing sink stops the fetch with its error.
        this.writes.catch((error: unknown) => this.end(error as Error));
        this.stats.blocksDelivered++;
        return;
      }
      case 'block-rejected':
        this.stats.blocksRejected++;
        return;
      case 'send-nack':
        if (this.feedback?.state.behind === true) {
          // Far slower than the rest: the sender would not answer, and the others would wait on it.
          this.stats.nacksWithheld++;
          return;
        }
        this.stats.nacksSent++;
        this.binding.send({ type: 'nack', sessionId: this.sessionId, senderId: this.senderId, entries: effect.entries } satisfies NackPacket);
        return;
      case 'schedule': {
        if (this.repairTimer) clearTimeout(this.repairTimer);
        const atMs = effect.atMs;
        this.repairTimer = setTimeout(() => this.apply({ type: 'timer' }, atMs), Math.max(0, atMs - performance.now()));
        return;
      }
      case 'cancel':
        if (this.repairTimer) clearTimeout(this.repairTimer);
        this.repairTimer = null;
        return;
      case 'report':
        this.stats.nacksSuppressed++;
        return;
      case 'session-done':
        // A late joiner with nothing more to get here: DONE now, so that the sender closes as soon as
        // the others are complete; it turns to them on the closing ANNOUNCE.
        this.sendDone(blockCountOf(layout) - effect.missing.length);
        return;
      case 'finished':
        if (effect.missing.length === 0 && this.options.doneOnComplete !== false) this.sendDone(blockCountOf(layout));
        this.end(effect.missing.length === 0 ? null : new MulticastIncompleteError(effect.missing, 'closed'));
        return;
    }
  }

  private sendDone(blocks: number): void {
    sendDoneCopies(this.binding, this.sessionId, this.senderId, blocks);
  }

  /** Ends the fetch (null: every wanted block arrived); it settles once every block handed to the sink is written. */
  private reportProgress(): void {
    if (this.unreported === 0) return;
    const bytes = this.unreported;
    this.unreported = 0;
    this.request.onProgress?.(bytes);
  }

  private end(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.reportProgress();
    this.binding.leave();
    if (this.repairTimer) clearTimeout(this.repairTimer);
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    if (this.feedback !== null) clearInterval(this.feedback.timer);
    this.request.signal.removeEventListener('abort', this.onAbort);
    this.writes.then(
      () => (error === null ? this.resolve() : this.reject(error)),
      (failure: unknown) => this.reject(failure),
    );
  }
}

/**
 * DONE: this device holds every block it wanted, verified, or (a late joiner) every block the
 * session will send it. The representative closes the session early once every device that joined
 * said so. Sent DONE_COPIES times back to back: a lost DONE costs every device of the subnet the
 * sender's quiet period (1.5 s); at 5 % loss three copies are all lost 0.0125 % of the time, two
 * 0.25 %, for 60 bytes more.
 */
export function sendDoneCopies(binding: Pick<SessionBinding, 'send'>, sessionId: string, senderId: string, blocksHeld: number): void {
  for (let i = 0; i < DONE_COPIES; i++) binding.send({ type: 'done', sessionId, senderId, blocksHeld } satisfies DonePacket);
}

function missingOf(state: ReceiverSessionState): number[] {
  const missing: number[] = [];
  for (let b = 0; b < state.wanted.length; b++) if (state.wanted[b] === 1) missing.push(b);
  return missing;
}

/** "0-4, 7, 9-12": block lists stay readable in logs and status reasons. */
function summarize(blocks: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < blocks.length; ) {
    let j = i;
    while (j + 1 < blocks.length && blocks[j + 1] === blocks[j] + 1) j++;
    parts.push(i === j ? String(blocks[i]) : `${blocks[i]}-${blocks[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}
