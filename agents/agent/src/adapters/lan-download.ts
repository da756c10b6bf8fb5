import { ByteSource, LanActivity, LanIssue, LanSession, TaskAssignedV1 } from '@fleetcast/contracts';
import { Manifest, blockCount } from '@fleetcast/content';
import {
  DEFAULT_ELECTION_OPTIONS,
  ElectionOptions,
  FOLLOW_STALL_MS,
  FetchSource,
  LanSessionContext,
  LanSessionEffect,
  LanSessionEvent,
  LanSessionState,
  MAX_HAVE_RANGES,
  Packet,
  SessionIssue,
  SessionTimer,
  newLanSession,
  reduceLanSession,
  senderIdOf,
  sessionIdOf,
} from '@fleetcast/lan-protocol';
import type { Logger } from '@fleetcast/telemetry';
import { compactRanges, expandRanges } from '../core/block-ranges';
import { DownloadAbortedError, DownloadSource, FetchBlocksRequest } from '../core/download-source';
import { lanIssueOf } from '../core/lan-issues';
import { PeerBlocksUnavailableError } from '../core/peer-errors';
import { CacheDownloadResult, downloadIntoCache } from './cache-download';
import { ContentCache } from './content-cache';
import { ElectionOutcome, LanElection } from './lan-election';
import { MulticastIncompleteError, MulticastSource, sendDoneCopies } from './multicast-source';
import { MulticastSender } from './multicast-sender';
import { PeerSource } from './peer-source';
import { SessionMux } from './session-mux';
import { MulticastPort, SessionClaims } from './udp-multicast';

export interface LanDownloadOptions {
  /** The agent's multicast socket (one per daemon, shared by its tasks); tests give an in-memory LAN. */
  socket: MulticastPort;
  cache: ContentCache;
  /** The accepted manifest (from the control plane, never from the LAN). */
  manifest: Manifest;
  task: TaskAssignedV1;
  deviceId: string;
  /** The task's LAN session from the control plane: key and the subnet's other targets. */
  session: LanSession;
  /** Election weight, 0..255. */
  weight: number;
  /** The origin (WAN) source: the representative's download, everyone's last resort. */
  origin: DownloadSource;
  signal: AbortSignal;
  logger: Logger;
  onProgress: (source: ByteSource, bytes: number) => void;
  election?: Partial<ElectionOptions>;
  /**
   * Port of this device's peer block server, announced in PEER_HAVE once it holds the content;
   * absent when it serves none.
   */
  peerPort?: number;
  /**
   * The port the subnet's devices serve blocks on (the fleet's configured peer port): with it, the
   * peers the control plane names in the session (`subnetPeers`) are asked too when the multicast
   * group told this device of nobody. Absent when agents use any free port (then only PEER_HAVE tells).
   */
  subnetPeerPort?: number;
  /** Headers of every request to a peer (the device's peer pass, which peers' servers ask for). */
  peerHeaders?: () => Record<string, string>;
  /**
   * A follower's wait for a silent representative before it ends its multicast round
   * (MULTICAST_SOURCE_DEFAULTS); the election then elects a successor, or the rest comes from peers and the origin.
   */
  silenceTimeoutMs?: number;
  /**
   * Who may claim the session: this device's ticket, and the check of the others' (see
   * SessionClaims). Without it, unsigned claims are accepted (tests and benchmarks); a device with
   * claims but no credentials of its own never claims (weight 0).
   */
  claims?: SessionClaims;
  /** The follower's wait for a new verified block before it gives up on its representative (FOLLOW_STALL_MS). */
  followStallMs?: number;
  /** MTU of the socket's interface: this device's multicast sizes its symbols to it (MulticastSenderOptions.mtu). */
  lanMtu?: number;
}

export interface LanDownloadResult extends CacheDownloadResult {
  /** The role the election first settled on (a failover may change it later: see `activity().role`). */
  outcome: ElectionOutcome;
}

/**
 * A task's download through its subnet's multicast session. What the device does in each role, when
 * the multicast starts, when a follower gives up and what is reported is decided by the session
 * reducer (lan-protocol `core/lan-session.ts`); this class carries out its effects:
 *
 * - representative: downloads what it lacks (from peers that hold it, then the origin) into the
 *   partial file and tells a MulticastSender each verified block (the LAN follows the WAN); the
 *   multicast starts after the session start delay, or as soon as every other target device of the
 *   subnet has joined; it returns once the session has closed, so the final status report carries
 *   the session's figures;
 * - follower: sends JOIN (and PEER_HAVE of its verified blocks, when it holds some and serves
 *   peers) and receives the multicast of its representative; when the session closes short, the rest
 *   comes from peers, then the origin (exactly the missing blocks);
 * - fallback (weight 0 and no representative): downloads from the origin as without multicast.
 *
 * Representative failover: a follower's election notices a representative that stops announcing
 * and starts a new round, in which devices rank by blocks held. The winner takes over the same
 * session (same task, same key) with its verified blocks, gathers the followers again for a short
 * while (their PEER_HAVE says what they hold), fetches what it lacks from peers first, and
 * multicasts only what some device lacks. A representative that meets a better one steps down and
 * follows the winner. Every round works on the same partial file.
 *
 * The session is joined once on the socket (a SessionMux): each of its packets is decoded once and
 * handed to the election, the receiver or the sender by type; JOIN, PEER_HAVE and ANNOUNCE feed the reducer.
 */
export class LanDownload {
  private readonly lanKey: Uint8Array;
  private readonly selfId: string;
  private readonly context: LanSessionContext;
  private state: LanSessionState;
  /** Events raised while effects are carried out wait here: the reducer sees one at a time. */
  private readonly queue: Array<{ event: LanSessionEvent; notBefore: number }> = [];
  private draining = false;
  private readonly timers = new Map<SessionTimer, NodeJS.Timeout>();
  /** Abort controllers of the rounds' fetches, by round (linked to the task's signal). */
  private readonly rounds = new Map<number, AbortController>();
  private mux: SessionMux | null = null;
  private election: LanElection | null = null;
  private sender: MulticastSender | null = null;
  /** The last complete fetch: the run's result. */
  private lastResult: CacheDownloadResult | null = null;
  private settle: { resolve: (result: LanDownloadResult) => void; reject: (error: unknown) => void } | null = null;
  private sessionStartedAt: string | null = null;
  /** LAN figures of senders of earlier rounds (a failover makes several). */
  private lanBytesBefore = 0;
  private repairParityBefore = 0;
  /** Datagrams of the session that failed to decode (forged, damaged), counted once each. */
  private invalidPackets = 0;
  /** Why the session fell short for this device (reported with the activity); null while it did not. */
  private issue: LanIssue | null = null;
  /** The election weight: 0 for a device that holds no ticket where the session requires one. */
  private readonly weight: number;

  constructor(private readonly options: LanDownloadOptions) {
    this.lanKey = new Uint8Array(Buffer.from(options.session.sessionKey, 'base64'));
    this.weight = options.claims !== undefined && options.claims.credentials === null ? 0 : options.weight;
    this.selfId = senderIdOf(options.deviceId);
    const election = { ...DEFAULT_ELECTION_OPTIONS, ...options.election };
    const { manifest, task, session } = options;
    this.context = {
      blocks: blockCount(manifest.size, manifest.blockSize),
      blockSize: manifest.blockSize,
      targets: session.subnetDeviceIds.map(senderIdOf).filter((id) => id !== this.selfId),
      subnetKnown: session.subnet !== null,
      startDelayMs: task.settings.sessionStartDelaySeconds * 1000,
      rateKbps: task.settings.lanRateLimitKbps ?? 0,
      stallMs: options.followStallMs ?? FOLLOW_STALL_MS,
      peerDownloadAllowed: task.settings.peerDownloadAllowed,
      servesPeers: options.peerPort !== undefined,
      keepAliveIntervalMs: election.keepAliveIntervalMs,
      missedKeepAlives: election.missedKeepAlives,
      noRepresentativeTimeoutMs: election.noRepresentativeTimeoutMs,
    };
    this.state = newLanSession(this.context.blocks);
  }

  /** This device's part in the session so far (running totals), for the status reports. */
  activity(): LanActivity {
    const stats = this.sender?.stats;
    const role = this.state.activity;
    return {
      role,
      sessionStartedAt: this.sessionStartedAt,
      // IP bytes of the data, parity and ANNOUNCE packets the sender's pacer let out (headers included: what the LAN carried).
      lanBytesSent: this.lanBytesBefore + (stats?.bytesSent ?? 0),
      repairs: role === 'representative' ? this.repairParityBefore + (stats?.repairParitySent ?? 0) : this.state.repairs,
      invalidPackets: this.invalidPackets,
      issue: this.issue,
    };
  }

  async run(): Promise<LanDownloadResult> {
    const { options } = this;
    if (options.signal.aborted) throw new DownloadAbortedError();
    // A device that holds the whole content (an earlier task, a pre-cache) takes part too: it ranks
    // first in the election (blocks held) and its multicast saves the subnet a WAN download.
    const held = await this.heldIndexes();
    const sessionId = sessionIdOf(options.task.taskId);
    this.mux = new SessionMux(options.socket, {
      sessionId,
      lanKey: this.lanKey,
      localSenderId: this.selfId,
      claims: options.claims,
      onInvalid: () => {
        this.invalidPackets++;
      },
    });
    this.mux.join(sessionId, this.lanKey, { onPacket: (packet, from) => this.onMember(packet, from.address), accepts: ['join', 'peer-have', 'announce'] });
    this.election = new LanElection({
      socket: this.mux,
      taskId: options.task.taskId,
      deviceId: options.deviceId,
      lanKey: this.lanKey,
      weight: this.weight,
      blocksHeld: held.length,
      logger: options.logger,
      election: options.election,
      // The sender announces every second (the election's keep-alive interval) from the moment it
      // exists, and a discovery window is 2.5 keep-alives: the election's own ANNOUNCEs are not needed.
      onAnnounceWanted: () => undefined,
      onRole: (role) => this.dispatch({ type: 'role-changed', role }),
      onRepresentativeLost: (representativeId) => this.dispatch({ type: 'representative-lost', representativeId }),
      onHeard: (othersHeard, mostBlocksHeldByOthers) => this.dispatch({ type: 'election-heard', othersHeard, mostBlocksHeldByOthers }),
    });
    const onAbort = () => this.dispatch({ type: 'aborted' });
    options.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await new Promise<LanDownloadResult>((resolve, reject) => {
        this.settle = { resolve, reject };
        this.dispatch({ type: 'start', held });
      });
    } finally {
      options.signal.removeEventListener('abort', onAbort);
      for (const timer of this.timers.values()) clearTimeout(timer);
      this.timers.clear();
      for (const round of this.rounds.values()) round.abort();
      this.election.stop();
      this.sender?.stop();
      this.mux.leave();
    }
  }

  /** Applies an event, then every event its effects raise, in order. `notBefore`: a timer's due time (Node may fire one early). */
  private dispatch(event: LanSessionEvent, notBefore = 0): void {
    this.queue.push({ event, notBefore });
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
        const result = reduceLanSession(this.state, next.event, Math.max(performance.now(), next.notBefore), this.context);
        this.state = result.state;
        for (const effect of result.effects) this.carryOut(effect);
      }
    } finally {
      this.draining = false;
    }
  }

  private carryOut(effect: LanSessionEffect): void {
    const { options } = this;
    switch (effect.type) {
      case 'start-election':
        this.election?.start();
        return;
      case 'stop-election':
        this.election?.stop();
        return;
      case 'election-blocks':
        this.election?.blocksHeld(effect.count);
        return;
      case 'schedule': {
        clearTimeout(this.timers.get(effect.timer));
        const { timer, atMs } = effect;
        this.timers.set(
          timer,
          setTimeout(() => {
            this.timers.delete(timer);
            this.dispatch({ type: timer }, atMs);
          }, Math.max(0, atMs - performance.now())),
        );
        return;
      }
      case 'cancel':
        clearTimeout(this.timers.get(effect.timer));
        this.timers.delete(effect.timer);
        return;
      case 'send-join':
        this.election?.sendJoin(effect.blocksHeld);
        return;
      case 'send-holdings':
        this.sendHoldings(effect.blocks);
        return;
      case 'send-done':
        if (this.mux !== null) sendDoneCopies(this.mux, sessionIdOf(options.task.taskId), this.selfId, effect.blocksHeld);
        return;
      case 'start-sender':
        void this.startSender(effect.round, effect.ready);
        return;
      case 'sender-block-ready':
        this.sender?.blockReady(effect.index);
        return;
      case 'sender-all-ready':
        for (let i = 0; i < this.context.blocks; i++) this.sender?.blockReady(i);
        return;
      case 'start-multicast': {
        const sender = this.sender;
        if (sender === null || sender.phase !== 'gathering') return;
        for (const i of effect.skip) sender.skip(i);
        this.sessionStartedAt ??= new Date().toISOString();
        const { why, takeover, targets, skip } = effect;
        options.logger.info(
          { taskId: options.task.taskId, why, joined: this.state.joined.length, targets, takeover, skipped: skip.length, blocks: this.context.blocks, symbolSize: sender.symbolSize, mtu: options.lanMtu ?? null },
          'multicast session starting',
        );
        sender.start();
        return;
      }
      case 'stop-sender':
        this.sender?.stop();
        return;
      case 'fetch':
        void this.fetch(effect.round, effect.sources);
        return;
      case 'follow':
        void this.follow(effect.round, effect.representativeId);
        return;
      case 'abort-round':
        this.roundSignal(effect.round);
        this.rounds.get(effect.round)?.abort();
        return;
      case 'report-issue':
        this.reportIssue(effect.issue);
        return;
      case 'log':
        options.logger[effect.level]({ taskId: options.task.taskId, ...effect.fields }, effect.message);
        return;
      case 'finish': {
        const result = this.lastResult as CacheDownloadResult;
        const blocksFetched = this.state.blocksFetched;
        this.settle?.resolve({ outcome: effect.role as ElectionOutcome, ...result, alreadyCached: result.alreadyCached && blocksFetched === 0, blocksFetched });
        return;
      }
      case 'fail':
        this.settle?.reject(effect.error === 'aborted' ? new DownloadAbortedError() : effect.error);
        return;
    }
  }

  /** The round's abort signal: aborted by the task's signal, or by `abort-round`. */
  private roundSignal(round: number): AbortSignal {
    let abort = this.rounds.get(round);
    if (abort === undefined) {
      abort = new AbortController();
      if (this.options.signal.aborted) abort.abort();
      else this.options.signal.addEventListener('abort', () => abort?.abort(), { once: true, signal: abort.signal });
      this.rounds.set(round, abort);
    }
    return abort.signal;
  }

  /** Ends a round's fetch: its listener on the task's signal goes with the abort. */
  private endRound(round: number): void {
    this.rounds.get(round)?.abort();
    this.rounds.delete(round);
  }

  private async startSender(round: number, ready: readonly number[]): Promise<void> {
    const { options } = this;
    const { cache, manifest, task } = options;
    const signal = this.roundSignal(round);
    try {
      const partial = (await cache.has(manifest.contentId)) ? null : await cache.openPartial(manifest);
      // The round ended while the cache was asked: no sender for it.
      if (signal.aborted) return;
      const sender = new MulticastSender({
        socket: this.mux as SessionMux,
        taskId: task.taskId,
        deviceId: options.deviceId,
        lanKey: this.lanKey,
        weight: options.weight,
        manifest,
        // The partial while the WAN download runs, the cache's file once it completed.
        paths: [...(partial === null ? [] : [partial.partPath]), cache.path(manifest.contentId)],
        session: { rateKbps: task.settings.lanRateLimitKbps ?? 0 },
        mtu: options.lanMtu,
      });
      this.retireSender();
      this.sender = sender;
      for (const i of ready) sender.blockReady(i);
      sender.done.then(
        (stats) => {
          options.logger.info(
            {
              taskId: task.taskId,
              stats,
              timeline: sender.timeline(),
              rate: sender.rateStats,
              rateTrace: sender.rateTrace,
              lanBytesPerContentByte: Number((stats.bytesSent / Math.max(1, manifest.size)).toFixed(4)),
            },
            'multicast sender closed',
          );
          this.dispatch({ type: 'sender-closed', round });
        },
        (error: unknown) => this.dispatch({ type: 'sender-closed', round, error: (error as Error).message }),
      );
      this.dispatch({ type: 'sender-started', round });
    } catch (error) {
      this.dispatch({ type: 'sender-failed', round, message: (error as Error).message });
    }
  }

  /** Keeps the figures of a sender that is being replaced (a representative that took over twice). */
  private retireSender(): void {
    if (this.sender === null) return;
    this.sender.stop();
    this.lanBytesBefore += this.sender.stats.bytesSent;
    this.repairParityBefore += this.sender.stats.repairParitySent;
    this.sender = null;
  }

  /** Fetches what is missing through `sources` in order into the cache; `fetch-ended` tells the reducer. */
  private async fetch(round: number, sources: readonly FetchSource[]): Promise<void> {
    const signal = this.roundSignal(round);
    try {
      const result = await this.fetchInto(sources.map((source) => this.sourceOf(source)), signal);
      this.lastResult = result;
      this.dispatch({ type: 'fetch-ended', round, outcome: 'complete', alreadyCached: result.alreadyCached });
    } catch (error) {
      this.dispatch({ type: 'fetch-ended', round, outcome: error instanceof DownloadAbortedError || signal.aborted ? 'aborted' : 'failed', error });
    } finally {
      this.endRound(round);
    }
  }

  /** Receives the multicast of `representativeId` for what this device lacks; `follow-ended` tells the reducer. */
  private async follow(round: number, representativeId: string): Promise<void> {
    const { options } = this;
    const signal = this.roundSignal(round);
    const multicast = new MulticastSource({
      socket: this.mux as SessionMux,
      taskId: options.task.taskId,
      deviceId: options.deviceId,
      lanKey: this.lanKey,
      silenceTimeoutMs: options.silenceTimeoutMs,
      representativeId,
      // The reducer's `send-done` says it, after the PEER_HAVE.
      doneOnComplete: false,
    });
    try {
      const result = await this.fetchInto([multicast], signal);
      this.lastResult = result;
      this.dispatch({ type: 'follow-ended', round, outcome: 'complete', alreadyCached: result.alreadyCached });
    } catch (error) {
      if (error instanceof DownloadAbortedError || signal.aborted) {
        this.dispatch({ type: 'follow-ended', round, outcome: 'aborted' });
      } else if (error instanceof MulticastIncompleteError) {
        // behind: this device found itself far slower than the rest and left repair to peers (core/rate-control.ts).
        options.logger.warn({ taskId: options.task.taskId, reason: error.reason, missing: error.missing.length, behind: multicast.stats.behind }, `multicast incomplete: ${error.message}`);
        this.dispatch({ type: 'follow-ended', round, outcome: error.reason === 'closed' ? 'closed' : 'silent' });
      } else {
        options.logger.warn({ taskId: options.task.taskId, err: (error as Error).message }, 'multicast failed; the rest from peers and the origin');
        this.dispatch({ type: 'follow-ended', round, outcome: 'failed', error });
      }
    } finally {
      this.endRound(round);
    }
  }

  /** Fetches what is missing through `sources` into the cache; every block stored goes to the reducer. */
  private fetchInto(sources: DownloadSource[], signal: AbortSignal): Promise<CacheDownloadResult> {
    const { cache, manifest, onProgress } = this.options;
    const counted = sources.map((source) => withBlockHook(source, (index) => this.dispatch({ type: 'block-ready', index })));
    return downloadIntoCache({ cache, manifest, sources: counted, signal, onProgress });
  }

  private sourceOf(source: FetchSource): DownloadSource {
    return source === 'origin' ? this.options.origin : this.peerSource(source === 'session-peers');
  }

  private reportIssue(issue: SessionIssue): void {
    this.issue = lanIssueOf(issue, (senderId) => this.deviceNameOf(senderId));
    this.options.logger.warn({ taskId: this.options.task.taskId, code: this.issue.code }, this.issue.message);
  }

  /** JOIN, PEER_HAVE and ANNOUNCE of the session's other devices, whatever this device's role: decoded for the reducer. */
  private onMember(packet: Packet, address: string): void {
    if (packet.senderId === this.selfId) return;
    if (packet.type === 'announce') {
      this.dispatch({ type: 'announce-heard', from: packet.senderId, gathering: packet.phase === 'gathering' });
    } else if (packet.type === 'join') {
      this.dispatch({ type: 'member-joined', from: packet.senderId, blocksHeld: packet.blocksHeld });
    } else if (packet.type === 'peer-have') {
      if (packet.ranges.length === 0) return this.dispatch({ type: 'member-joined', from: packet.senderId });
      const ranges = expandRanges(packet.ranges, this.context.blocks);
      const blocks = 'error' in ranges ? null : [...ranges];
      this.dispatch({ type: 'member-joined', from: packet.senderId, holdings: { peerUrl: peerUrl(address, packet.port), blocks } });
    }
  }

  /** The verified blocks this device holds now (all of them once the content is in the cache). */
  private async heldIndexes(): Promise<number[]> {
    const { cache, manifest } = this.options;
    const blocks = blockCount(manifest.size, manifest.blockSize);
    if (await cache.has(manifest.contentId)) return Array.from({ length: blocks }, (_, i) => i);
    const partial = await cache.openPartial(manifest);
    const held: number[] = [];
    for (let i = 0; i < blocks; i++) if (partial.has(i)) held.push(i);
    return held;
  }

  /** Tells the subnet which blocks this device serves to peers (the reducer sends it only when it runs a peer server). */
  private sendHoldings(held: readonly number[]): void {
    const port = this.options.peerPort;
    if (port === undefined || this.mux === null || held.length === 0) return;
    const ranges = compactRanges(held);
    // A PEER_HAVE carries at most MAX_HAVE_RANGES ranges; several packets add up at the receiver.
    for (let i = 0; i < ranges.length; i += MAX_HAVE_RANGES) {
      this.mux.send({ type: 'peer-have', sessionId: sessionIdOf(this.options.task.taskId), senderId: this.selfId, port, ranges: ranges.slice(i, i + MAX_HAVE_RANGES) });
    }
  }

  /** The device behind a sender ID, as the control plane's list of the subnet's targets names it. */
  private deviceNameOf(senderId: string): string {
    const deviceId = this.options.session.subnetDeviceIds.find((id) => senderIdOf(id) === senderId);
    return deviceId === undefined ? `with sender ID ${senderId}` : deviceId;
  }

  /**
   * A source over the peer servers announced so far (PEER_HAVE: complete copies, and the verified
   * blocks of devices that re-joined after a failover) and, `withSessionPeers`, those the control
   * plane named in the session (each asked what it holds first). With none known, it passes
   * everything on.
   */
  private peerSource(withSessionPeers: boolean): DownloadSource {
    const { session, subnetPeerPort } = this.options;
    return {
      kind: 'peer',
      fetchBlocks: async (request) => {
        const named = withSessionPeers && subnetPeerPort !== undefined ? (session.subnetPeers ?? []).map((p) => peerUrl(p.address, subnetPeerPort)) : [];
        const peers = [...new Set([...Object.values(this.state.peers), ...named])];
        if (peers.length === 0) throw new PeerBlocksUnavailableError(request.blocks, 'no peer announced the content');
        this.options.logger.info({ taskId: this.options.task.taskId, peers: peers.length, namedByControlPlane: named.length, blocks: request.blocks.length }, 'fetching from peers');
        const source = new PeerSource({ peers, headers: this.options.peerHeaders });
        try {
          await source.fetchBlocks(request);
        } finally {
          source.close();
        }
      },
    };
  }
}

/** A peer block server's base URL. */
function peerUrl(address: string, port: number): string {
  return address.includes(':') ? `http://[${address}]:${port}` : `http://${address}:${port}`;
}

/** The same source, calling `onBlock` after each block is in the sink (written and recorded). */
function withBlockHook(source: DownloadSource, onBlock: (index: number) => void): DownloadSource {
  return {
    kind: source.kind,
    fetchBlocks: (request: FetchBlocksRequest) =>
      source.fetchBlocks({
        ...request,
        sink: async (index, data) => {
          await request.sink(index, data);
          onBlock(index);
        },
      }),
  };
}
