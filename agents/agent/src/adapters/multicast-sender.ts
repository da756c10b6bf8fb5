import { open } from 'node:fs/promises';
import { FleetcastError } from '@fleetcast/contracts';
import { Manifest, blockRange, verifyBlock } from '@fleetcast/content';
import {
  AUTH_TAG_BYTES,
  DEFAULT_GROUP_DATA_SYMBOLS,
  DEFAULT_SYMBOL_BYTES,
  PACKET_OVERHEAD_BYTES,
  Packet,
  REPORT_LOSS_SCALE,
  RateControlOptions,
  RateControlState,
  RepairOptions,
  SYMBOL_ADDRESS_BYTES,
  SenderPacket,
  SenderSessionContext,
  SenderSessionEffect,
  SenderSessionOptions,
  SenderSessionState,
  SenderSessionStats,
  SessionLayout,
  createErasureCoder,
  groupDataCount,
  answersReceiver,
  layoutError,
  newRateControl,
  newSenderSession,
  reduceRateControl,
  resolveRateControlOptions,
  reduceSenderSession,
  senderIdOf,
  senderSessionContext,
  sessionIdOf,
  symbolSizeForMtu,
  symbolSpan,
} from '@fleetcast/lan-protocol';
import { MulticastPort, PacketFrom, SEND_QUEUE_HIGH_WATER, SessionBinding } from './udp-multicast';

export const MulticastSenderErrorCode = {
  /** A block on disk no longer matches the manifest: sending it would waste every receiver's time. */
  BlockUnreadable: 'MULTICAST.BLOCK_UNREADABLE',
} as const;

export class MulticastSenderError extends FleetcastError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'MulticastSenderError';
  }
}

export interface MulticastSenderOptions {
  /** The multicast socket, or the task's session mux. */
  socket: MulticastPort;
  taskId: string;
  deviceId: string;
  /** The task's LAN key (from the control plane, over NATS); null only for an unauthenticated lab run. */
  lanKey: Uint8Array | null;
  /** The representative's election weight (1..255), carried in every ANNOUNCE. */
  weight: number;
  manifest: Manifest;
  /**
   * Files that may hold the blocks, tried in order: the partial download (while the WAN download
   * runs) and the complete file it is renamed to when it ends.
   */
  paths: readonly string[];
  /**
   * MTU of the interface the session's socket sends on: the symbol size is the largest whose
   * datagrams it carries unfragmented (`symbolSizeForMtu`; below 576 the sender refuses to start).
   * Absent (an OS whose MTU is not read): DEFAULT_SYMBOL_BYTES, sized for Ethernet.
   */
  mtu?: number;
  /** Overrides the size `mtu` gives (tests). */
  symbolSize?: number;
  groupDataSymbols?: number;
  session?: Partial<SenderSessionOptions>;
  repair?: Partial<RepairOptions>;
  /**
   * Congestion control (`core/rate-control.ts`): the rate follows the receivers' REPORTs, with
   * `session.rateKbps` (the profile's LAN rate limit) as its cap. On unless false: then the session
   * sends at `session.rateKbps` (0: as fast as the socket takes), as before REPORTs existed.
   */
  congestion?: Partial<RateControlOptions> | false;
}

/**
 * Blocks kept in memory: the one being sent and a few behind it that repairs still ask for. 4 MiB
 * of 1 MiB blocks; an older block is read again from disk when a late NACK asks for it.
 */
const BLOCK_CACHE_SIZE = 4;
/** Rate changes kept for the close log: the first seconds of a session, where a wrong turn shows. */
const RATE_TRACE_LENGTH = 24;

/**
 * The representative's send loop: drives the sender session reducer on a timer, reads the block
 * bytes from disk (verifying them again against the manifest), makes DATA and PARITY packets and
 * sends them on the shared socket. `blockReady(i)` is called as the representative's own WAN
 * download verifies block i, so the multicast runs behind the WAN download, not after it.
 */
export class MulticastSender {
  private readonly binding: SessionBinding;
  private context: SenderSessionContext;
  /** Null when congestion control is off. */
  private rateControl: { state: RateControlState; options: RateControlOptions } | null = null;
  private readonly layout: SessionLayout;
  private readonly senderId: string;
  private readonly sessionId: string;
  private state: SenderSessionState;
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private running = false;
  private pendingEvents: Array<{ event: Parameters<typeof reduceSenderSession>[1] }> = [];
  private readonly blocks = new Map<number, Promise<Uint8Array>>();
  private loaded: { index: number; bytes: Uint8Array } | null = null;
  private sendSymbol!: ReturnType<SessionBinding['symbolSender']>;
  /** Receivers whose DONE ends the session early: named by the caller (`expectReceivers`) or heard JOIN; and the DONEs heard so far. */
  private readonly expected = new Set<string>();
  private readonly doneFrom = new Set<string>();
  /** The first rate changes with the REPORTs behind them (loss/kbit/s/best kbit/s), for the close log. */
  readonly rateTrace: string[] = [];
  private readonly startedAt = performance.now();
  /** Receivers that declared themselves behind (REPORT): not waited for; they take the rest from peers. */
  private readonly behind = new Set<string>();
  private receiversDoneSent = false;
  private finished = false;
  /** When each phase began (performance.now()), for `timeline`. */
  private readonly phaseAt = new Map<SenderSessionState['phase'], number>();
  private receiversDoneAt: number | undefined;
  private resolveDone!: (stats: SenderSessionStats) => void;
  private rejectDone!: (error: Error) => void;
  /** Resolves with the session's counters once it closed; rejects when a block cannot be read. */
  readonly done: Promise<SenderSessionStats>;

  constructor(private readonly options: MulticastSenderOptions) {
    this.layout = {
      size: options.manifest.size,
      blockSize: options.manifest.blockSize,
      symbolSize: options.symbolSize ?? (options.mtu === undefined ? DEFAULT_SYMBOL_BYTES : symbolSizeForMtu(options.mtu, options.lanKey !== null)),
      groupDataSymbols: options.groupDataSymbols ?? DEFAULT_GROUP_DATA_SYMBOLS,
    };
    const error = layoutError(this.layout);
    if (error !== null) throw new RangeError(`multicast layout: ${error}`);
    this.sessionId = sessionIdOf(options.taskId);
    this.senderId = senderIdOf(options.deviceId);
    const symbolOverheadBytes = PACKET_OVERHEAD_BYTES + SYMBOL_ADDRESS_BYTES + (options.lanKey === null ? 0 : AUTH_TAG_BYTES);
    this.context = senderSessionContext(
      this.layout,
      { sessionId: this.sessionId, senderId: this.senderId, weight: options.weight, contentId: options.manifest.contentId },
      { symbolOverheadBytes, ...options.session },
      options.repair,
    );
    if (options.congestion !== false) {
      const rateOptions = resolveRateControlOptions({ capKbps: this.context.options.rateKbps, ...options.congestion });
      const state = newRateControl(rateOptions, performance.now());
      this.rateControl = { state, options: rateOptions };
      this.setRate(state.rateKbps);
    }
    this.state = newSenderSession(this.layout, performance.now());
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // Never an unhandled rejection: callers that do not await `done` read the error from stats.
    this.done.catch(() => undefined);
    this.binding = options.socket.join(this.sessionId, options.lanKey, { onPacket: (packet, from) => this.onPacket(packet, from), localSenderId: this.senderId, accepts: ['nack', 'join', 'done', 'report'] });
    this.sendSymbol = this.binding.symbolSender(this.senderId);
    this.dispatch({ type: 'tick' });
  }

  /** The symbol size the session announces. */
  get symbolSize(): number {
    return this.layout.symbolSize;
  }

  get stats(): SenderSessionStats {
    return this.state.stats;
  }

  get phase(): SenderSessionState['phase'] {
    return this.state.phase;
  }

  /** The block the first pass is on (the block count once it is over). */
  /** The send rate now, kbit/s (0: unlimited); it moves with the receivers' REPORTs under congestion control. */
  get rateKbps(): number {
    return this.context.options.rateKbps;
  }

  /** The rate controller's counters, or null when congestion control is off. */
  get rateStats(): RateControlState['stats'] | null {
    return this.rateControl?.state.stats ?? null;
  }

  get sendingBlock(): number {
    return this.state.cursor?.block ?? this.state.sentCount;
  }

  /**
   * Where the session's time went, in ms from the start of the multicast (null: not reached): the
   * first pass (sending until repairing), the last repair queued, the DONE of the last expected
   * receiver, and the close. A session that
   * closes long after its pass and last repair waited for something other than the transfer.
   */
  timeline(): { passMs: number | null; lastRepairMs: number | null; receiversDoneMs: number | null; closingMs: number | null; closedMs: number | null } {
    const start = this.phaseAt.get('sending');
    const since = (at: number | undefined) => (start === undefined || at === undefined ? null : Math.round(at - start));
    const repaired = this.state.stats.repairParitySent > 0 ? this.state.lastRepairMs : undefined;
    return { passMs: since(this.phaseAt.get('repairing')), lastRepairMs: since(repaired), receiversDoneMs: since(this.receiversDoneAt), closingMs: since(this.phaseAt.get('closing')), closedMs: since(this.phaseAt.get('closed')) };
  }

  /** Ends the gathering phase: the multicast begins. */
  start(): void {
    this.dispatch({ type: 'start' });
  }

  /** Block `index` is verified on disk at the representative. */
  blockReady(index: number): void {
    this.dispatch({ type: 'block-ready', index });
  }

  /**
   * Before `start` only: block `index`, held by this representative, is held by every device of the
   * session too, so the first pass leaves it out. A successor elected mid-session uses it to send only
   * what the others lack; a receiver that still asks for the block gets it as repair parity (it is on
   * disk here), and one that joined after it reports it missing and takes it from a peer.
   */
  skip(index: number): void {
    if (this.state.phase !== 'gathering') throw new RangeError(`skip(${index}) after the session started (phase ${this.state.phase})`);
    if (!Number.isInteger(index) || index < 0 || index >= this.state.sent.length) throw new RangeError(`block ${index} is outside 0..${this.state.sent.length - 1}`);
    // The pass sends the lowest ready unsent block: a block marked sent is never part of it.
    if (this.state.sent[index] === 0) {
      this.state.sent[index] = 1;
      this.state.sentCount++;
    }
  }

  /**
   * The sender IDs of the devices that joined the session. Once each of them has sent DONE (it holds
   * the content, verified), the session closes as soon as the pass is over and no repair is due,
   * instead of waiting `quietMs` for NACKs that will not come: the representative's own task ends
   * that much sooner. Devices whose JOIN this sender hears are expected too (followers repeat their
   * JOIN on the gathering ANNOUNCE a new sender makes), so the caller's list only adds those joined
   * before. A receiver expected by nobody that still NACKs puts the quiet period back; one that
   * stays silent while the others finish gets the closing ANNOUNCE and takes what it lacks from
   * peers or the origin, as after any session.
   */
  expectReceivers(senderIds: Iterable<string>): void {
    for (const id of senderIds) if (id !== this.senderId) this.expected.add(id);
    this.checkReceiversDone();
  }

  stop(): void {
    this.dispatch({ type: 'stop' });
  }

  private onPacket(packet: Packet, _from: PacketFrom): void {
    // Our own packets come back through multicast loopback (the socket drops most before decoding).
    if (packet.senderId === this.senderId) return;
    if (packet.type === 'nack') {
      // A receiver far slower than the rest, or behind, is not repaired by the pass: its losses
      // would fill the LAN with parity the others do not need. It takes the rest from peers.
      if (this.rateControl === null || answersReceiver(this.rateControl.state, packet.senderId)) this.dispatch({ type: 'nack', entries: packet.entries });
    } else if (packet.type === 'report') this.onReport(packet.senderId, packet.lossPermyriad / REPORT_LOSS_SCALE, packet.receiveKbps, packet.behind);
    else if (packet.type === 'join') {
      this.expected.add(packet.senderId);
      // A device that holds every block already (its cache) needs nothing and never sends DONE:
      // waiting for one would hold the session to its quiet period.
      if (packet.blocksHeld >= this.state.sent.length) this.doneFrom.add(packet.senderId);
    }
    else if (packet.type === 'done' && !this.doneFrom.has(packet.senderId)) {
      this.doneFrom.add(packet.senderId);
      this.checkReceiversDone();
    }
  }

  private onReport(receiverId: string, lossFraction: number, receiveKbps: number, behind: boolean): void {
    if (this.rateControl === null) return;
    const { effects } = reduceRateControl(this.rateControl.state, { type: 'report', receiverId, lossFraction, receiveKbps, behind }, performance.now(), this.rateControl.options);
    for (const effect of effects) {
      if (effect.type === 'receiver-behind') {
        this.behind.add(effect.receiverId);
        this.checkReceiversDone();
      }
    }
  }

  /** Once an interval, from the send loop's ticks: what the controller decides from the REPORTs heard. */
  private decideRate(now: number): void {
    if (this.rateControl === null || now < this.rateControl.state.nextDecisionMs) return;
    const { effects } = reduceRateControl(this.rateControl.state, { type: 'tick', bytesSent: this.state.stats.bytesSent }, now, this.rateControl.options);
    for (const effect of effects) {
      if (effect.type !== 'set-rate') continue;
      this.setRate(effect.kbps);
      if (this.rateTrace.length < RATE_TRACE_LENGTH) {
        const figures = [...this.rateControl.state.reports].map(([id, r]) => `${id.slice(-4)}:${Math.round(r.lossFraction * 100)}%/${r.receiveKbps}/${r.peakKbps}`);
        this.rateTrace.push(`${Math.round(now - this.startedAt)}ms ${effect.kbps} [${figures.join(' ')}] slow [${[...this.rateControl.state.slow].map((id) => id.slice(-4)).join(' ')}]`);
      }
    }
  }

  /** The session context is data: a new rate is a new context, read by the pacer from the next packet on and announced. */
  private setRate(kbps: number): void {
    this.context = { ...this.context, options: { ...this.context.options, rateKbps: kbps } };
  }

  private checkReceiversDone(): void {
    if (this.receiversDoneSent || this.expected.size === 0) return;
    for (const id of this.expected) if (!this.doneFrom.has(id) && !this.behind.has(id)) return;
    this.receiversDoneSent = true;
    this.receiversDoneAt = performance.now();
    this.dispatch({ type: 'receivers-done' });
  }

  /** Events are applied one at a time: a tick may wait for a block read, and nothing overtakes it. */
  private dispatch(event: Parameters<typeof reduceSenderSession>[1]): void {
    if (this.finished) return;
    this.pendingEvents.push({ event });
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pendingEvents.length > 0 && !this.finished) {
        const { event } = this.pendingEvents.shift() as { event: Parameters<typeof reduceSenderSession>[1] };
        if (event.type === 'tick' && this.binding.sendQueueCount() > SEND_QUEUE_HIGH_WATER) {
          // The kernel is behind (rate unlimited, or a slow NIC): try again once the queue drains a little.
          this.arm(performance.now() + 1);
          continue;
        }
        const now = performance.now();
        if (event.type === 'tick') this.decideRate(now);
        const result = reduceSenderSession(this.state, event, now, this.context);
        this.state = result.state;
        await this.carryOut(result.effects);
      }
    } catch (error) {
      this.finish(error as Error);
    } finally {
      this.running = false;
    }
  }

  private async carryOut(effects: SenderSessionEffect[]): Promise<void> {
    for (const effect of effects) {
      switch (effect.type) {
        case 'send': {
          // Synchronous while the block is in memory: an await per packet would cost a microtask turn each.
          const reading = this.send(effect.packet);
          if (reading !== null) await reading;
          break;
        }
        case 'schedule':
          this.arm(effect.atMs);
          break;
        case 'closed':
          this.finish(null);
          break;
        case 'report':
          // Phase changes are kept for `timeline`; exhausted groups are in the counters (stats).
          if (effect.event === 'phase' && !this.phaseAt.has(effect.phase)) this.phaseAt.set(effect.phase, performance.now());
          break;
      }
    }
  }

  private arm(atMs: number): void {
    if (this.timer !== null) clearTimeoutOrImmediate(this.timer);
    const delay = atMs - performance.now();
    const fire = () => {
      this.timer = null;
      this.dispatch({ type: 'tick' });
    };
    // Node timers have 1 ms resolution: anything due within it runs on the next turn of the loop.
    this.timer = delay < 1 ? setImmediate(fire) : setTimeout(fire, delay);
  }

  /** Sends the packet; returns a promise only when its block must be read from disk first. */
  private send(packet: SenderPacket): Promise<void> | null {
    if (packet.kind === 'announce') {
      this.binding.send(packet.packet);
      return null;
    }
    if (this.loaded?.index === packet.block) {
      this.sendFrom(this.loaded.bytes, packet);
      return null;
    }
    return this.block(packet.block).then((bytes) => {
      this.loaded = { index: packet.block, bytes };
      this.sendFrom(bytes, packet);
    });
  }

  private sendFrom(block: Uint8Array, packet: Extract<SenderPacket, { kind: 'data' | 'parity' }>): void {
    const { layout } = this;
    if (packet.kind === 'data') {
      const { start, end } = symbolSpan(layout, packet.block, packet.group, packet.index);
      this.sendSymbol('data', packet.block, packet.group, packet.index, block.subarray(start, end));
      return;
    }
    const k = groupDataCount(layout, packet.block, packet.group);
    const data: Uint8Array[] = new Array(k);
    for (let i = 0; i < k; i++) {
      const { start, end } = symbolSpan(layout, packet.block, packet.group, i);
      data[i] = block.subarray(start, end);
    }
    const [payload] = createErasureCoder(k, 0).encode(data, [packet.index]);
    this.sendSymbol('parity', packet.block, packet.group, packet.index, payload);
  }

  private block(index: number): Promise<Uint8Array> {
    let bytes = this.blocks.get(index);
    if (bytes === undefined) {
      bytes = this.readBlock(index);
      this.blocks.set(index, bytes);
      if (this.blocks.size > BLOCK_CACHE_SIZE) this.blocks.delete(this.blocks.keys().next().value as number);
    } else {
      // Most recently used goes last.
      this.blocks.delete(index);
      this.blocks.set(index, bytes);
    }
    return bytes;
  }

  private async readBlock(index: number): Promise<Uint8Array> {
    const { start, end } = blockRange(this.options.manifest, index);
    let lastError: unknown = null;
    for (const path of this.options.paths) {
      try {
        const handle = await open(path, 'r');
        try {
          const buffer = new Uint8Array(end - start);
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
          if (bytesRead === buffer.length && verifyBlock(this.options.manifest, index, buffer)) return buffer;
          lastError = new Error(`${path}: block ${index} does not match the manifest`);
        } finally {
          await handle.close();
        }
      } catch (error) {
        lastError = error;
      }
    }
    this.blocks.delete(index);
    throw new MulticastSenderError(MulticastSenderErrorCode.BlockUnreadable, `block ${index} could not be read: ${(lastError as Error | null)?.message ?? 'no path'}`);
  }

  private finish(error: Error | null): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== null) clearTimeoutOrImmediate(this.timer);
    this.timer = null;
    this.binding.leave();
    if (error === null) this.resolveDone(this.state.stats);
    else this.rejectDone(error);
  }
}

function clearTimeoutOrImmediate(timer: NodeJS.Timeout | NodeJS.Immediate): void {
  if ('hasRef' in timer && 'refresh' in timer) clearTimeout(timer as NodeJS.Timeout);
  else clearImmediate(timer as NodeJS.Immediate);
}
