import type { RemoteInfo } from 'node:dgram';
import { verifyBlock } from '@fleetcast/content';
import {
  DEFAULT_REPAIR_OPTIONS,
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
  newReceiverSession,
  reduceReceiverSession,
  resolveRepairOptions,
  senderIdOf,
  sessionIdOf,
} from '@fleetcast/lan-protocol';
import { DownloadAbortedError, DownloadSource, DownloadSourceError, FetchBlocksRequest } from '../core/download-source';
import { SessionBinding, UdpMulticastSocket } from './udp-multicast';

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
  /** The agent's multicast socket (one per interface, shared by its tasks). */
  socket: UdpMulticastSocket;
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

/** Copies of a receiver's DONE (see `sendDone`). */
const DONE_COPIES = 2;

export interface MulticastSourceStats {
  packetsHeard: number;
  /** Packets of this session that failed to decode, by code (BAD_AUTH: forgeries). */
  invalid: Record<string, number>;
  announcesIgnored: number;
  blocksDelivered: number;
  blocksRejected: number;
  nacksSent: number;
  nacksSuppressed: number;
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
  readonly stats: MulticastSourceStats = { packetsHeard: 0, invalid: {}, announcesIgnored: 0, blocksDelivered: 0, blocksRejected: 0, nacksSent: 0, nacksSuppressed: 0 };
  private readonly sessionId: string;
  private readonly senderId: string;
  private readonly repair: RepairOptions;

  constructor(private readonly options: MulticastSourceOptions) {
    this.sessionId = sessionIdOf(options.taskId);
    this.senderId = senderIdOf(options.deviceId);
    this.repair = resolveRepairOptions(options.repair ?? DEFAULT_REPAIR_OPTIONS);
  }

  fetchBlocks(request: FetchBlocksRequest): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const { manifest, sink, signal } = request;
      if (signal.aborted) return reject(new DownloadAbortedError());
      if (request.blocks.length === 0) return resolve();
      const silenceMs = this.options.silenceTimeoutMs ?? MULTICAST_SOURCE_DEFAULTS.silenceTimeoutMs;
      const random = this.options.random ?? Math.random;
      let state: ReceiverSessionState | null = null;
      let layout: SessionLayout | null = null;
      let repairTimer: NodeJS.Timeout | null = null;
      let silenceTimer: NodeJS.Timeout | null = null;
      let writes: Promise<void> = Promise.resolve();
      let settled = false;
      let binding: SessionBinding | null = null;
      const early: Packet[] = [];

      const end = (outcome: { ok: true } | { ok: false; error: Error }) => {
        if (settled) return;
        settled = true;
        binding?.leave();
        if (repairTimer) clearTimeout(repairTimer);
        if (silenceTimer) clearTimeout(silenceTimer);
        signal.removeEventListener('abort', onAbort);
        // Resolve only once every block handed to the sink is written.
        writes.then(
          () => (outcome.ok ? resolve() : reject(outcome.error)),
          (error: unknown) => reject(error),
        );
      };
      const onAbort = () => end({ ok: false, error: new DownloadAbortedError() });
      signal.addEventListener('abort', onAbort);

      // One timer for the whole fetch, not one per packet: it re-arms itself for what is left of the silence.
      let lastHeardMs = performance.now();
      const checkSilence = () => {
        const quietFor = performance.now() - lastHeardMs;
        if (quietFor < silenceMs) {
          silenceTimer = setTimeout(checkSilence, silenceMs - quietFor);
          return;
        }
        const missing = state === null ? [...request.blocks].sort((a, b) => a - b) : missingOf(state);
        end({ ok: false, error: new MulticastIncompleteError(missing, 'silent') });
      };
      const armSilence = () => {
        lastHeardMs = performance.now();
      };

      // Made once per fetch, not per packet: every symbol of the session goes through `apply`.
      const verify = (index: number, bytes: Uint8Array) => verifyBlock(manifest, index, bytes);
      let context: ReceiverSessionContext | null = null;
      const io = {
        sink: (index: number, bytes: Uint8Array) => {
          writes = writes.then(() => sink(index, bytes));
          // A refusing sink stops the fetch with its error.
          writes.catch((error: unknown) => end({ ok: false, error: error as Error }));
          this.stats.blocksDelivered++;
        },
        nack: (entries: NackPacket['entries']) => binding?.send({ type: 'nack', sessionId: this.sessionId, senderId: this.senderId, entries } satisfies NackPacket),
        schedule: (atMs: number) => {
          if (repairTimer) clearTimeout(repairTimer);
          repairTimer = setTimeout(() => apply({ type: 'timer' }, atMs), Math.max(0, atMs - performance.now()));
        },
        cancel: () => {
          if (repairTimer) clearTimeout(repairTimer);
          repairTimer = null;
        },
        finished: (missing: number[]) => {
          if (missing.length === 0 && layout !== null) this.sendDone(binding, blockCountOf(layout));
          end(missing.length === 0 ? { ok: true } : { ok: false, error: new MulticastIncompleteError(missing, 'closed') });
        },
      };

      /** `notBefore`: a timer's due time. Node's timers run on a coarser clock and may fire a fraction of a millisecond early; the reducer ignores an early timer, which would leave it unarmed. */
      const apply = (event: ReceiverSessionEvent, notBefore = 0) => {
        if (state === null || layout === null || settled) return;
        if (context === null || context.layout !== layout) context = { layout, repair: this.repair, random, verify };
        let next: ReceiverSessionEvent | undefined = event;
        const queue: ReceiverSessionEvent[] = [];
        while (next !== undefined && !settled) {
          const result = reduceReceiverSession(state, next, Math.max(performance.now(), notBefore), context);
          state = result.state;
          for (const effect of result.effects) this.carryOut(effect, layout, queue, io);
          next = queue.shift();
        }
      };

      const representativeId = this.options.representativeId;
      const onPacket = (packet: Packet, _from: RemoteInfo) => {
        if (packet.senderId === this.senderId) return;
        const fromOther = representativeId !== undefined && packet.senderId !== representativeId;
        // Other receivers' NACKs still count (suppression); another sender's pass does not.
        if (fromOther && packet.type !== 'nack') return;
        this.stats.packetsHeard++;
        if (!fromOther) armSilence();
        switch (packet.type) {
          case 'announce': {
            if (packet.contentId !== manifest.contentId || packet.size !== manifest.size || packet.blockSize !== manifest.blockSize) {
              this.stats.announcesIgnored++;
              return;
            }
            if (layout === null) {
              const candidate: SessionLayout = { size: packet.size, blockSize: packet.blockSize, symbolSize: packet.symbolSize, groupDataSymbols: packet.groupDataSymbols };
              if (layoutError(candidate) !== null) {
                this.stats.announcesIgnored++;
                return;
              }
              layout = candidate;
              state = newReceiverSession(layout, request.blocks);
              // Symbols first: the first DATA heard, not this ANNOUNCE, is where this receiver joined.
              for (const held of early.splice(0)) onTransfer(held);
            }
            apply({ type: 'announce', packet });
            return;
          }
          default:
            onTransfer(packet);
        }
      };

      const onTransfer = (packet: Packet) => {
        if (layout === null) {
          if ((packet.type === 'data' || packet.type === 'parity') && early.length < EARLY_PACKET_LIMIT) early.push(packet);
          return;
        }
        switch (packet.type) {
          case 'data':
          case 'parity':
            request.onProgress?.(packet.payload.length);
            apply({ type: 'symbol', kind: packet.type, block: packet.block, group: packet.group, index: packet.index, payload: packet.payload });
            return;
          case 'nack':
            apply({ type: 'nack-heard', entries: packet.entries });
            return;
          default:
            // Election and peer packets are the session layer's, not the transfer's.
            return;
        }
      };

      binding = this.options.socket.join(this.sessionId, this.options.lanKey, {
        onPacket,
        // Our own NACKs and DONEs come back through multicast loopback: not worth a decode.
        localSenderId: this.senderId,
        onInvalid: (code) => {
          this.stats.invalid[code] = (this.stats.invalid[code] ?? 0) + 1;
        },
      });
      silenceTimer = setTimeout(checkSilence, silenceMs);
    });
  }

  /**
   * DONE: this device holds every block it wanted, verified. The representative closes the session
   * early once every device that joined said so. Sent DONE_COPIES times back to back: a lost DONE
   * only costs the quiet period, but at 5 % loss two copies lose both 0.25 % of the time.
   */
  private sendDone(binding: SessionBinding | null, blocks: number): void {
    for (let i = 0; i < DONE_COPIES; i++) binding?.send({ type: 'done', sessionId: this.sessionId, senderId: this.senderId, blocksHeld: blocks } satisfies DonePacket);
  }

  private carryOut(
    effect: ReceiverSessionEffect,
    layout: SessionLayout,
    queue: ReceiverSessionEvent[],
    io: {
      sink: (index: number, bytes: Uint8Array) => void;
      nack: (entries: NackPacket['entries']) => void;
      schedule: (atMs: number) => void;
      cancel: () => void;
      finished: (missing: number[]) => void;
    },
  ): void {
    switch (effect.type) {
      case 'decode-group': {
        const bytes = decodeGroupBytes(layout, effect.block, effect.group, effect.symbols);
        // k symbols always decode (MDS); null only for symbols of inconsistent lengths, which the reducer screens out.
        if (bytes !== null) queue.unshift({ type: 'group-decoded', block: effect.block, group: effect.group, bytes });
        return;
      }
      case 'block-complete':
        io.sink(effect.index, effect.bytes);
        return;
      case 'block-rejected':
        this.stats.blocksRejected++;
        return;
      case 'send-nack':
        this.stats.nacksSent++;
        io.nack(effect.entries);
        return;
      case 'schedule':
        io.schedule(effect.atMs);
        return;
      case 'cancel':
        io.cancel();
        return;
      case 'report':
        this.stats.nacksSuppressed++;
        return;
      case 'finished':
        io.finished(effect.missing);
        return;
    }
  }
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
