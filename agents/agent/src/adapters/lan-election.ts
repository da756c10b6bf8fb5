import {
  DEFAULT_ELECTION_OPTIONS,
  ElectionEffect,
  ElectionEvent,
  ElectionOptions,
  ElectionPhase,
  ElectionState,
  Packet,
  electionEventOf,
  newElection,
  reduceElection,
  senderIdOf,
  sessionIdOf,
} from '@fleetcast/lan-protocol';
import type { Logger } from '@fleetcast/telemetry';
import { MulticastPort, SessionBinding } from './udp-multicast';

/** How a device's election for a task first settled. */
export type ElectionOutcome =
  | { role: 'representative' }
  | { role: 'follower'; representativeId: string }
  | { role: 'fallback'; reason: 'no-representative' | 'stopped' };

export interface LanElectionOptions {
  /** The multicast socket, or the task's session mux. */
  socket: MulticastPort;
  taskId: string;
  deviceId: string;
  lanKey: Uint8Array | null;
  /** 0 (never representative) .. 255. */
  weight: number;
  /** Verified blocks already held (a device holding more fetches less as representative). */
  blocksHeld: number;
  logger: Logger;
  election?: Partial<ElectionOptions>;
  /**
   * The election wants an ANNOUNCE sent (an answer to a DISCOVER or CLAIM, a keep-alive). Only a
   * representative's transfer can fill one in (content, layout, progress), so the caller sends it.
   */
  onAnnounceWanted?: () => void;
  /** A representative that met a better one and stepped down (the caller stops its sender). */
  onSteppedDown?: (representativeId: string) => void;
  /**
   * Every role the election settles on, the first one included: a new round after a silent
   * representative ends in `representative` or `follower` again, and a representative that steps
   * down becomes a `follower`. The caller switches what it does (representative failover).
   */
  onRole?: (outcome: ElectionOutcome) => void;
  /** The representative this device followed missed its keep-alives: a new round began without it. */
  onRepresentativeLost?: (representativeId: string) => void;
  /** The devices heard in this round changed (DISCOVER, CLAIM): how many, and the most blocks one holds. */
  onHeard?: (othersHeard: number, mostBlocksHeldByOthers: number) => void;
}

/** The packets the election reads: its own, and the symbols that show a representative alive. */
const ELECTION_PACKETS: readonly Packet['type'][] = ['discover', 'claim', 'announce', 'data', 'parity'];

/**
 * A sender's symbols reach the election as `alive` at most once in this many milliseconds. The
 * election measures silence in keep-alives (4 missed, 1 s each), so 100 ms of resolution changes no
 * outcome; feeding it every symbol ran the reducer (a copy of its state) some 700 times a MB, about
 * a fifth of a receiver's packet delivery in a lab profile.
 */
export const ALIVE_EVERY_MS = 100;

/**
 * The adapter of the election reducer for one task on the shared multicast socket: feeds it the
 * session's DISCOVER, CLAIM, ANNOUNCE and symbol packets and its one timer, and carries out its
 * effects. `outcome` settles on the first `become-representative`, `follow` or `fallback`; the
 * election keeps running after it until `stop`: a representative must keep answering newcomers,
 * and a follower must notice a representative that stops announcing, so that a new round elects
 * a successor (`onRole` reports every later role).
 */
export class LanElection {
  private state: ElectionState;
  private readonly options: ElectionOptions;
  private readonly binding: SessionBinding;
  private readonly sessionId: string;
  private readonly senderId: string;
  private timer: NodeJS.Timeout | null = null;
  private settle!: (outcome: ElectionOutcome) => void;
  private settled = false;
  /** When each sender's symbols last went to the reducer as `alive` (see ALIVE_EVERY_MS). */
  private readonly aliveAt = new Map<string, number>();
  /** Packets of this session that failed to decode (forged, damaged), for the status report. */
  invalidPackets = 0;
  readonly outcome: Promise<ElectionOutcome>;

  constructor(private readonly config: LanElectionOptions) {
    this.options = { ...DEFAULT_ELECTION_OPTIONS, ...config.election };
    this.sessionId = sessionIdOf(config.taskId);
    this.senderId = senderIdOf(config.deviceId);
    this.state = newElection(this.senderId, config.weight, config.blocksHeld);
    this.outcome = new Promise((resolve) => (this.settle = resolve));
    this.binding = config.socket.join(this.sessionId, config.lanKey, {
      onPacket: (packet) => this.onPacket(packet),
      onInvalid: () => {
        this.invalidPackets++;
      },
      accepts: ELECTION_PACKETS,
    });
  }

  get phase(): ElectionPhase {
    return this.state.phase;
  }

  get id(): string {
    return this.senderId;
  }

  start(): void {
    this.apply({ type: 'start' });
  }

  /** Other devices heard in this round (DISCOVER, CLAIM). */
  othersHeard(): number {
    return Object.keys(this.state.candidates).length;
  }

  /** The most verified blocks another device of this round said it holds (DISCOVER, CLAIM); 0 when none was heard. */
  mostBlocksHeldByOthers(): number {
    return Object.values(this.state.candidates).reduce((most, c) => Math.max(most, c.blocksHeld), 0);
  }

  /** This device now holds `count` verified blocks (it ranks a later claim). */
  blocksHeld(count: number): void {
    this.apply({ type: 'blocks-held', count });
  }

  /** Tells the representative this device takes part (it starts early once every target joined). */
  sendJoin(blocksHeld: number): void {
    this.binding.send({ type: 'join', sessionId: this.sessionId, senderId: this.senderId, blocksHeld });
  }

  stop(): void {
    this.apply({ type: 'stop' });
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.binding.leave();
    this.resolve({ role: 'fallback', reason: 'stopped' });
  }

  private onPacket(packet: Packet): void {
    if (packet.senderId === this.senderId) return;
    if (packet.type === 'data' || packet.type === 'parity') {
      const now = performance.now();
      const last = this.aliveAt.get(packet.senderId);
      if (last !== undefined && now - last < ALIVE_EVERY_MS) return;
      this.aliveAt.set(packet.senderId, now);
    }
    const event = electionEventOf(packet);
    if (event !== null) this.apply(event);
  }

  /** `notBefore`: the due time of a timer, which Node may fire a fraction of a millisecond early. */
  private apply(event: ElectionEvent, notBefore = 0): void {
    if (this.state.phase === 'stopped') return;
    const before = this.state.phase;
    const followed = this.state.representative?.id;
    const candidates = this.state.candidates;
    const result = reduceElection(this.state, event, Math.max(performance.now(), notBefore), this.options);
    this.state = result.state;
    if (this.state.candidates !== candidates) this.config.onHeard?.(this.othersHeard(), this.mostBlocksHeldByOthers());
    // Following -> discovering happens only when the representative fell silent (election.ts).
    if (before === 'following' && this.state.phase === 'discovering' && followed !== undefined) this.config.onRepresentativeLost?.(followed);
    for (const effect of result.effects) this.carryOut(effect, before);
  }

  private carryOut(effect: ElectionEffect, before: ElectionPhase): void {
    switch (effect.type) {
      case 'send':
        if (effect.message.type === 'announce') this.config.onAnnounceWanted?.();
        else this.binding.send({ type: effect.message.type, sessionId: this.sessionId, senderId: this.senderId, weight: effect.message.weight, blocksHeld: effect.message.blocksHeld });
        return;
      case 'schedule': {
        if (this.timer !== null) clearTimeout(this.timer);
        const atMs = effect.atMs;
        this.timer = setTimeout(() => {
          this.timer = null;
          this.apply({ type: 'timer' }, atMs);
        }, Math.max(0, atMs - performance.now()));
        return;
      }
      case 'become-representative':
        this.settleRole({ role: 'representative' });
        return;
      case 'follow':
        if (before === 'representative') this.config.onSteppedDown?.(effect.representativeId);
        this.settleRole({ role: 'follower', representativeId: effect.representativeId });
        return;
      case 'fallback':
        this.settleRole({ role: 'fallback', reason: effect.reason });
        return;
      case 'report':
        this.config.logger.info({ taskId: this.config.taskId, from: effect.from, to: effect.to, reason: effect.reason }, 'LAN election');
        return;
    }
  }

  private settleRole(outcome: ElectionOutcome): void {
    this.resolve(outcome);
    this.config.onRole?.(outcome);
  }

  private resolve(outcome: ElectionOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.settle(outcome);
  }
}
