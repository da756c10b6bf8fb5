import { ByteSource, LanActivity, LanIssue, LanIssueCode, LanSession, TaskAssignedV1 } from '@fleetcast/contracts';
import { Manifest, blockCount } from '@fleetcast/content';
import { DEFAULT_ELECTION_OPTIONS, ElectionOptions, MAX_HAVE_RANGES, Packet, senderIdOf, sessionIdOf } from '@fleetcast/lan-protocol';
import type { Logger } from '@fleetcast/telemetry';
import { compactRanges, expandRanges } from '../core/block-ranges';
import { DownloadAbortedError, DownloadSource, FetchBlocksRequest } from '../core/download-source';
import { PeerBlocksUnavailableError } from '../core/peer-errors';
import { FOLLOW_STALL_MS, followDeadlineMs, FollowWatch } from '../core/session-deadline';
import { CacheDownloadResult, downloadIntoCache } from './cache-download';
import { ContentCache } from './content-cache';
import { ElectionOutcome, LanElection } from './lan-election';
import { MulticastIncompleteError, MulticastSource } from './multicast-source';
import { MulticastSender } from './multicast-sender';
import { PeerSource } from './peer-source';
import { SessionBinding, SessionClaims, UdpMulticastSocket } from './udp-multicast';

export interface LanDownloadOptions {
  /** The agent's multicast socket (one per daemon, shared by its tasks). */
  socket: UdpMulticastSocket;
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
}

export interface LanDownloadResult extends CacheDownloadResult {
  /** The role the election first settled on (a failover may change it later: see `activity().role`). */
  outcome: ElectionOutcome;
}

/**
 * How long a follower whose session fell silent waits for the election to settle on a new role
 * before it takes the rest from peers and the origin: the election's own time to declare the
 * representative dead (missed keep-alives) plus its time to give up on finding one (the no-representative
 * timeout, which covers a discovery window, a claim window and a better device that never claims).
 */
function roleWaitMs(election: ElectionOptions): number {
  return election.missedKeepAlives * election.keepAliveIntervalMs + election.noRepresentativeTimeoutMs;
}

/**
 * A successor's wait for the followers of the lost representative to re-join, at most (it ends as
 * soon as every target device but the lost ones has): three keep-alive intervals. They are already
 * waiting in the election's new round and follow on the successor's first ANNOUNCE (sent at once);
 * a lost ANNOUNCE is repeated every keep-alive.
 */
const TAKEOVER_GATHER_KEEP_ALIVES = 3;

/**
 * A representative that is ready before anybody joined (it held the content, or the start delay is
 * 0) still waits this many keep-alives before it closes without a multicast: followers JOIN when
 * they hear its first ANNOUNCE, and a lost JOIN is repeated on the next one.
 */
const JOIN_GRACE_KEEP_ALIVES = 3;

/** The contract's bound on an issue message (lanIssueSchema): a longer one would make the report invalid. */
const MAX_ISSUE_MESSAGE_CHARS = 500;

/** What one follower round ended with. */
type FollowEnd =
  | { kind: 'complete'; result: CacheDownloadResult }
  /** The representative closed the session with blocks missing: peers, then the origin. */
  | { kind: 'closed' }
  /** The representative fell silent: the election is electing a successor. */
  | { kind: 'lost' }
  /** The election settled on another role (a new representative, or this device): the round was abandoned. */
  | { kind: 'switched' }
  /** The representative delivered no verified block before the follower's deadline (core/session-deadline.ts). */
  | { kind: 'deadline'; waitedMs: number; blocks: number };

/**
 * A task's download through its subnet's multicast session. The election runs for the whole
 * download, and the device does what its current role says:
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
 * (missed keep-alives) and starts a new round, in which devices rank by blocks held. The winner
 * takes over the same session (same task, same key): it keeps its verified blocks, gathers the
 * followers again for a short while (their PEER_HAVE says what they hold), fetches the blocks it lacks
 * from peers first and from the origin only when no peer has them, and multicasts only the blocks
 * some device lacks. The others follow it, keep what they have and want only the rest. A
 * representative that meets a better one steps down: it stops sending and its download, and follows
 * the winner. Nobody starts over: every round works on the same partial file.
 */
export class LanDownload {
  private readonly lanKey: Uint8Array;
  private readonly selfId: string;
  private readonly electionOptions: ElectionOptions;
  private election: LanElection | null = null;
  private sender: MulticastSender | null = null;
  private role: LanActivity['role'] = 'none';
  private sessionStartedAt: string | null = null;
  private fallbackBlocks = 0;
  /** LAN figures of senders and sources of earlier rounds (a failover makes several). */
  private lanBytesBefore = 0;
  private repairParityBefore = 0;
  /**
   * Datagrams of the session that failed to decode (forged, damaged), counted once each: the socket
   * hands one to every handler of the session (election, source, sender), so only this one counts.
   */
  private invalidPackets = 0;
  /** Sender IDs heard in JOIN or PEER_HAVE packets of the session (since this device last took over). */
  private readonly joined = new Set<string>();
  /** Of those, the devices that hold every block already (their JOIN or PEER_HAVE says so): they need no multicast. */
  private readonly complete = new Set<string>();
  /** Called when a new device joined (the representative checks whether all targets are in). */
  private onJoin: () => void = () => undefined;
  /** Peer block servers announced in PEER_HAVE, by sender ID: where a device repairs before the origin. */
  private readonly peers = new Map<string, string>();
  /** Blocks each device said it holds in PEER_HAVE (several packets add up). */
  private readonly holdings = new Map<string, Set<number>>();
  /** Representatives this device saw fall silent: a successor does not wait for them to re-join. */
  private readonly lostRepresentatives = new Set<string>();
  private members: SessionBinding | null = null;
  /** The election's current role, and a count of role changes so that a round knows it is stale. */
  private current: ElectionOutcome | null = null;
  private roleSeq = 0;
  private roleWaiters: Array<() => void> = [];
  /** The running round: what it does (role and representative) and how to abandon it. */
  private round: { key: string; abort: AbortController } | null = null;
  private blocksHeld = 0;
  private blocksFetched = 0;
  /** Why the session fell short for this device (reported with the activity); null while it did not. */
  private issue: LanIssue | null = null;

  /** The election weight: 0 for a device that holds no ticket where the session requires one. */
  private readonly weight: number;

  constructor(private readonly options: LanDownloadOptions) {
    this.lanKey = new Uint8Array(Buffer.from(options.session.sessionKey, 'base64'));
    this.weight = options.claims !== undefined && options.claims.credentials === null ? 0 : options.weight;
    this.selfId = senderIdOf(options.deviceId);
    this.electionOptions = { ...DEFAULT_ELECTION_OPTIONS, ...options.election };
  }

  /** This device's part in the session so far (running totals), for the status reports. */
  activity(): LanActivity {
    const stats = this.sender?.stats;
    return {
      role: this.role,
      sessionStartedAt: this.sessionStartedAt,
      // IP bytes of the data, parity and ANNOUNCE packets the sender's pacer let out (headers included: what the LAN carried).
      lanBytesSent: this.lanBytesBefore + (stats?.bytesSent ?? 0),
      repairs: this.role === 'representative' ? this.repairParityBefore + (stats?.repairParitySent ?? 0) : this.fallbackBlocks,
      invalidPackets: this.invalidPackets,
      issue: this.issue,
    };
  }

  private noteIssue(code: LanIssueCode, message: string): void {
    this.issue = { code, message: message.slice(0, MAX_ISSUE_MESSAGE_CHARS) };
    this.options.logger.warn({ taskId: this.options.task.taskId, code }, message);
  }

  async run(): Promise<LanDownloadResult> {
    const { options } = this;
    const { cache, manifest, signal } = options;
    // A device that holds the whole content (an earlier task, a pre-cache) takes part too: it ranks
    // first in the election (blocks held) and its multicast saves the subnet a WAN download.
    const blocks = blockCount(manifest.size, manifest.blockSize);
    this.blocksHeld = (await cache.has(manifest.contentId)) ? blocks : blocks - (await cache.openPartial(manifest)).missingBlocks().length;
    this.members = options.socket.join(
      sessionIdOf(options.task.taskId),
      this.lanKey,
      {
        onPacket: (packet, from) => this.onMember(packet, from.address),
        onInvalid: () => {
          this.invalidPackets++;
        },
      },
      options.claims,
    );
    const election = new LanElection({
      socket: options.socket,
      taskId: options.task.taskId,
      deviceId: options.deviceId,
      lanKey: this.lanKey,
      weight: this.weight,
      blocksHeld: this.blocksHeld,
      logger: options.logger,
      election: options.election,
      // The sender announces every second (the election's keep-alive interval) from the moment it
      // exists, and a discovery window is 2.5 keep-alives: the election's own ANNOUNCEs are not needed.
      onAnnounceWanted: () => undefined,
      onSteppedDown: (representativeId) => {
        options.logger.warn({ taskId: options.task.taskId, representativeId }, 'stepped down as representative: the multicast and the download stop, this device follows the winner');
      },
      onRole: (outcome) => this.onRole(outcome),
      onRepresentativeLost: (representativeId) => {
        this.lostRepresentatives.add(representativeId);
        options.logger.warn({ taskId: options.task.taskId, representativeId }, 'representative fell silent: electing a successor');
      },
    });
    this.election = election;
    election.start();
    try {
      const outcome = await this.firstRole(election);
      if (outcome === null) {
        election.stop();
        const waited = Math.round(roleWaitMs(this.electionOptions) / 1000);
        this.noteIssue(LanIssueCode.SessionDeadline, `no representative settled within ${waited} s (claims that never led to a session): downloading from the origin`);
        const result = await this.fetchInto([options.origin], signal);
        return { outcome: { role: 'fallback', reason: 'no-representative' }, ...result, blocksFetched: this.blocksFetched };
      }
      options.logger.info({ taskId: options.task.taskId, ...outcome }, 'LAN session role');
      const result = await this.participate();
      return { outcome, ...result, alreadyCached: result.alreadyCached && this.blocksFetched === 0, blocksFetched: this.blocksFetched };
    } finally {
      election.stop();
      this.round?.abort.abort();
      this.members?.leave();
    }
  }

  /**
   * The election's first role, or null when none settled in the time a sound election takes at most
   * (a representative found, or the no-representative timeout): devices that keep claiming and never
   * announce would otherwise hold this device in the election for ever.
   */
  private async firstRole(election: LanElection): Promise<ElectionOutcome | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), roleWaitMs(this.electionOptions))));
    try {
      return await untilAborted(Promise.race([election.outcome, timeout]), this.options.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  private onRole(outcome: ElectionOutcome): void {
    if (outcome.role === 'fallback' && outcome.reason === 'stopped') return;
    const previous = this.current;
    this.current = outcome;
    this.roleSeq++;
    if (previous !== null && roleKey(previous) !== roleKey(outcome)) {
      this.options.logger.info({ taskId: this.options.task.taskId, from: roleKey(previous), to: roleKey(outcome) }, 'LAN session role changed');
    }
    // A round doing something else is abandoned; the loop in `participate` starts the right one.
    if (this.round !== null && this.round.key !== roleKey(outcome)) this.round.abort.abort();
    for (const wake of this.roleWaiters.splice(0)) wake();
  }

  /** Resolves true once the role changed after `seq`, false after `timeoutMs` (or an abort). */
  private roleChangeAfter(seq: number, timeoutMs: number): Promise<boolean> {
    if (this.roleSeq !== seq) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (changed: boolean) => {
        clearTimeout(timer);
        this.options.signal.removeEventListener('abort', onAbort);
        resolve(changed);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.options.signal.addEventListener('abort', onAbort, { once: true });
      this.roleWaiters.push(() => done(true));
    });
  }

  /** A round's abort controller: aborted by the task's signal, or when the role changes away from `key`. */
  private beginRound(key: string): AbortController {
    const abort = new AbortController();
    if (this.options.signal.aborted) abort.abort();
    else this.options.signal.addEventListener('abort', () => abort.abort(), { once: true, signal: abort.signal });
    this.round = { key, abort };
    if (this.current === null || roleKey(this.current) !== key) abort.abort();
    return abort;
  }

  /** Releases a finished round (its listener on the task's signal goes with the abort). */
  private endRound(round: AbortController): void {
    if (this.round?.abort === round) this.round = null;
    round.abort();
  }

  /** Runs rounds as the election's role says until the content is complete (or the task aborted). */
  private async participate(): Promise<CacheDownloadResult> {
    const { options } = this;
    for (;;) {
      if (options.signal.aborted) throw new DownloadAbortedError();
      const seq = this.roleSeq;
      const role = this.current as ElectionOutcome;
      if (role.role === 'representative') {
        this.role = 'representative';
        const result = await this.represent();
        if (result !== null) return result;
        continue;
      }
      if (role.role === 'fallback') {
        this.election?.stop();
        if (this.role === 'none') {
          this.noteIssue(LanIssueCode.NoRepresentative, `no multicast session (${role.reason}): downloading from the origin`);
          return this.fetchInto([options.origin], options.signal);
        }
        // A follower whose representative was lost and no successor came forward.
        return this.repairRest();
      }
      this.role = 'receiver';
      const end = await this.followRound(role.representativeId);
      if (end.kind === 'complete') {
        this.announceHeld();
        return end.result;
      }
      if (end.kind === 'switched') continue;
      if (end.kind === 'deadline') {
        this.noteIssue(
          LanIssueCode.SessionDeadline,
          `representative ${this.deviceNameOf(role.representativeId)} delivered ${end.blocks} verified block(s) here and then none for ${Math.round(end.waitedMs / 1000)} s: ` +
            `it is no longer followed, the rest comes from ${options.task.settings.peerDownloadAllowed ? 'peers, then the origin' : 'the origin'}`,
        );
        this.election?.stop();
        return this.repairRest();
      }
      if (end.kind === 'lost') {
        this.lostRepresentatives.add(role.representativeId);
        if (await this.roleChangeAfter(seq, roleWaitMs(this.electionOptions))) continue;
      }
      // The session is over for this device: without `stop`, the election would elect a successor
      // once the representative that closed the session stops announcing.
      this.election?.stop();
      return this.repairRest();
    }
  }

  /** Fetches what is missing through `sources` into the cache, counting the blocks fetched. */
  private async fetchInto(sources: DownloadSource[], signal: AbortSignal): Promise<CacheDownloadResult> {
    const { cache, manifest, onProgress } = this.options;
    const counted = sources.map((source) =>
      withBlockHook(source, () => {
        this.blocksFetched++;
        this.blocksHeld++;
        this.election?.blocksHeld(this.blocksHeld);
      }),
    );
    return downloadIntoCache({ cache, manifest, sources: counted, signal, onProgress });
  }

  /** After the session: peers (when allowed), then the origin, for exactly the blocks still missing. */
  private async repairRest(): Promise<CacheDownloadResult> {
    const { options } = this;
    // An issue already noted (a session deadline) says more than "incomplete".
    if (this.issue === null && !(await options.cache.has(options.manifest.contentId))) {
      const missing = (await options.cache.openPartial(options.manifest)).missingBlocks().length;
      const from = options.task.settings.peerDownloadAllowed ? 'peers, then the origin' : 'the origin';
      this.noteIssue(LanIssueCode.SessionIncomplete, `the multicast session ended with ${missing} block(s) missing here; they come from ${from}`);
    }
    const repaired = () => {
      this.fallbackBlocks++;
    };
    const origin = withBlockHook(options.origin, repaired);
    const sources = options.task.settings.peerDownloadAllowed ? [withBlockHook(this.peerSource(true), repaired), origin] : [origin];
    return this.fetchInto(sources, options.signal).then((result) => {
      this.announceHeld();
      return result;
    });
  }

  /** JOIN and PEER_HAVE of the session's other devices, whatever this device's role. */
  private onMember(packet: Packet, address: string): void {
    if (packet.senderId === this.selfId) return;
    if (packet.type !== 'join' && packet.type !== 'peer-have') return;
    const blocks = blockCount(this.options.manifest.size, this.options.manifest.blockSize);
    if (packet.type === 'join' && packet.blocksHeld >= blocks) this.complete.add(packet.senderId);
    if (packet.type === 'peer-have' && packet.ranges.length > 0) {
      this.peers.set(packet.senderId, peerUrl(address, packet.port));
      const ranges = expandRanges(packet.ranges, blocks);
      if (!('error' in ranges)) {
        const held = this.holdings.get(packet.senderId) ?? new Set<number>();
        for (const index of ranges) held.add(index);
        this.holdings.set(packet.senderId, held);
        if (held.size >= blocks) this.complete.add(packet.senderId);
      }
    }
    if (!this.joined.has(packet.senderId)) {
      this.joined.add(packet.senderId);
      this.onJoin();
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

  /** Tells the subnet which blocks this device serves to peers (when it runs a peer server and holds any). */
  private sendHoldings(held: readonly number[]): void {
    const port = this.options.peerPort;
    if (port === undefined || this.members === null || held.length === 0) return;
    const ranges = compactRanges(held);
    // A PEER_HAVE carries at most MAX_HAVE_RANGES ranges; several packets add up at the receiver.
    for (let i = 0; i < ranges.length; i += MAX_HAVE_RANGES) {
      this.members.send({ type: 'peer-have', sessionId: sessionIdOf(this.options.task.taskId), senderId: this.selfId, port, ranges: ranges.slice(i, i + MAX_HAVE_RANGES) });
    }
  }

  /** Tells the subnet this device now serves the whole content to peers (when it runs a peer server). */
  private announceHeld(): void {
    const blocks = blockCount(this.options.manifest.size, this.options.manifest.blockSize);
    this.sendHoldings(Array.from({ length: blocks }, (_, i) => i));
  }

  /**
   * One stretch as representative: the first one of the session, or a takeover after the previous
   * representative fell silent. Returns null when the election made this device a follower
   * (stepped down for a better representative): what it fetched so far stays in the partial.
   */
  private async represent(): Promise<CacheDownloadResult | null> {
    const { options, joined } = this;
    const { cache, manifest, task, logger } = options;
    const round = this.beginRound(roleKey({ role: 'representative' }));
    // A representative elected after one fell silent takes over a session already under way.
    const takeover = this.lostRepresentatives.size > 0;
    const partial = (await cache.has(manifest.contentId)) ? null : await cache.openPartial(manifest);
    // A successor gathers the devices of the session again: only JOINs from now on count.
    if (takeover) {
      joined.clear();
      this.complete.clear();
    }
    let sender: MulticastSender;
    try {
      sender = new MulticastSender({
        socket: options.socket,
        taskId: task.taskId,
        deviceId: options.deviceId,
        lanKey: this.lanKey,
        weight: options.weight,
        manifest,
        // The partial while the WAN download runs, the cache's file once it completed.
        paths: [...(partial === null ? [] : [partial.partPath]), cache.path(manifest.contentId)],
        session: { rateKbps: task.settings.lanRateLimitKbps ?? 0 },
      });
    } catch (error) {
      // Content the session cannot lay out (an empty file): the followers fall back after their silence timeout.
      logger.warn({ taskId: task.taskId, err: (error as Error).message }, 'cannot multicast this content; downloading from the origin only');
      this.endRound(round);
      return this.fetchInto([options.origin], options.signal);
    }
    this.retireSender();
    this.sender = sender;
    const blocks = blockCount(manifest.size, manifest.blockSize);
    const heldAtStart = new Set(await this.heldIndexes());
    for (const i of heldAtStart) sender.blockReady(i);

    const targets = new Set(options.session.subnetDeviceIds.map(senderIdOf).filter((id) => id !== this.selfId && !this.lostRepresentatives.has(id)));
    // The control plane knows this device's subnet and no other target is on it: nobody to wait for.
    const alone = !takeover && targets.size === 0 && options.session.subnet !== null;
    let startTimer: NodeJS.Timeout | null = null;
    let gathered!: () => void;
    const gathering = new Promise<void>((resolve) => (gathered = resolve));
    let graceTimer: NodeJS.Timeout | null = null;
    const graceOver = new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, alone ? 0 : JOIN_GRACE_KEEP_ALIVES * this.electionOptions.keepAliveIntervalMs)));
    /** Devices that joined and lack blocks: those the multicast is for. */
    const receivers = () => [...joined].filter((id) => !this.complete.has(id));
    /** The gather window ended with nobody to send to: the first JOIN starts the multicast (a late device). */
    let waitingForJoin = false;
    const start = (why: string) => {
      if (startTimer !== null) clearTimeout(startTimer);
      startTimer = null;
      gathered();
      if (sender.phase !== 'gathering') return;
      if (receivers().length === 0) {
        // Multicasting to nobody costs LAN bandwidth and, for a device that holds the content, the
        // time of a whole pass. The session stays announced while this device's download runs.
        if (!waitingForJoin) {
          logger.info({ taskId: task.taskId, why, joined: joined.size, targets: targets.size }, alone ? 'no other target device on this subnet: no multicast' : 'nobody to multicast to yet: the first device that joins starts it');
        }
        waitingForJoin = true;
        return;
      }
      // Blocks every device that joined holds (their PEER_HAVE says which) are not sent: after a
      // takeover most of the content is on the subnet already (see MulticastSender.skip).
      const skipped = [...heldAtStart].filter((i) => joined.size > 0 && [...joined].every((id) => this.holdings.get(id)?.has(i) === true));
      for (const i of skipped) sender.skip(i);
      this.sessionStartedAt ??= new Date().toISOString();
      logger.info({ taskId: task.taskId, why, joined: joined.size, targets: targets.size, takeover, skipped: skipped.length, blocks }, 'multicast session starting');
      sender.start();
    };
    const allJoined = () => targets.size > 0 && [...targets].every((id) => joined.has(id));
    this.onJoin = () => {
      if (allJoined()) start('every target device of the subnet joined');
      else if (waitingForJoin) start('a device joined after the session start delay');
    };
    // A takeover gathers for a short while whatever the start delay: the devices are already waiting
    // for a successor, and their PEER_HAVE is what keeps the successor from fetching blocks they hold.
    const gatherMs = alone ? 0 : takeover ? TAKEOVER_GATHER_KEEP_ALIVES * this.electionOptions.keepAliveIntervalMs : task.settings.sessionStartDelaySeconds * 1000;
    if (allJoined()) start('every target device of the subnet joined');
    else startTimer = setTimeout(() => start(takeover ? 'takeover gather window over' : 'session start delay over'), gatherMs);

    try {
      // A successor asks the followers' PEER_HAVE before it fetches: wait until they re-joined.
      if (takeover) await untilAborted(gathering, round.signal);
      // A device that lost the election by weight but holds more (the whole package, say) answers the
      // first ANNOUNCE with PEER_HAVE: wait for it (or for everyone) so its blocks do not cross the WAN again.
      else if ((this.election?.mostBlocksHeldByOthers() ?? 0) > heldAtStart.size) await untilAborted(Promise.race([gathering, graceOver]), round.signal);
      const ready = (index: number) => sender.blockReady(index);
      // Nobody heard on the multicast group (blocked there, or the session long over): the peers the
      // control plane names may hold the content, and are asked before the origin.
      const heardNobody = !takeover && joined.size === 0 && (this.election?.othersHeard() ?? 0) === 0;
      const peers = withBlockHook(this.peerSource(heardNobody), ready);
      const sources = task.settings.peerDownloadAllowed ? [peers, withBlockHook(options.origin, ready)] : [withBlockHook(options.origin, ready)];
      const result = await this.fetchInto(sources, round.signal);
      // Blocks that were in the cache already, or resumed: all are ready now.
      for (let i = 0; i < blocks; i++) sender.blockReady(i);
      this.announceHeld();
      // A device that held the content (or fetched it fast) still gives the others the start delay,
      // and, while nobody needs its multicast, the time to answer its first ANNOUNCE (a session
      // already started needs no such wait: it ends when its receivers are done).
      await untilAborted(gathering, round.signal);
      if (sender.phase === 'gathering') await untilAborted(graceOver, round.signal);
      if (sender.phase === 'gathering') {
        // Complete here, and nobody needs the multicast: the session closes without one.
        logger.info({ taskId: task.taskId, joined: joined.size, targets: targets.size }, 'multicast session closed without a multicast: nobody needed it');
        if (!takeover && targets.size > 0 && joined.size === 0) {
          this.noteIssue(
            LanIssueCode.NobodyJoined,
            `none of the ${targets.size} other target device(s) of the subnet joined the session within the start delay: multicast may be blocked on this subnet, or they are offline` +
              (result.alreadyCached ? '' : '; this device fetched the package by itself (from peers the control plane named, else the origin)'),
          );
        }
        return result;
      }
      const stats = await untilAborted(
        sender.done.catch((error: unknown) => {
          // Our own copy is complete and verified: a broken session costs the followers a fallback, not us the task.
          logger.warn({ taskId: task.taskId, err: (error as Error).message }, 'multicast session ended with an error');
          return sender.stats;
        }),
        round.signal,
      );
      logger.info({ taskId: task.taskId, stats, lanBytesPerContentByte: Number((stats.bytesSent / Math.max(1, manifest.size)).toFixed(4)) }, 'multicast session closed');
      return result;
    } catch (error) {
      // Stepped down: not a failure; the loop follows the winner with what this device holds.
      if (error instanceof DownloadAbortedError && !options.signal.aborted) return null;
      throw error;
    } finally {
      if (startTimer !== null) clearTimeout(startTimer);
      if (graceTimer !== null) clearTimeout(graceTimer);
      this.onJoin = () => undefined;
      sender.stop();
      this.endRound(round);
    }
  }

  /** Keeps the figures of a sender that is being replaced (a representative that took over twice). */
  private retireSender(): void {
    if (this.sender === null) return;
    this.lanBytesBefore += this.sender.stats.bytesSent;
    this.repairParityBefore += this.sender.stats.repairParitySent;
    this.sender = null;
  }

  /** One stretch as follower of `representativeId`: JOIN, then its multicast for what this device lacks. */
  private async followRound(representativeId: string): Promise<FollowEnd> {
    const { options } = this;
    const { task, logger, manifest } = options;
    const round = this.beginRound(roleKey({ role: 'follower', representativeId }));
    let deadlineTimer: NodeJS.Timeout | undefined;
    let deadlinePassed = false;
    let blocks = 0;
    const watch: FollowWatch = { sinceMs: performance.now(), lastBlockAtMs: null, blocksHeldAtJoin: 0 };
    try {
      const held = await this.heldIndexes();
      // The representative must deliver verified blocks, not only keep-alives (core/session-deadline.ts).
      watch.blocksHeldAtJoin = held.length;
      const deadline = {
        startDelayMs: task.settings.sessionStartDelaySeconds * 1000,
        stallMs: options.followStallMs ?? FOLLOW_STALL_MS,
        rateKbps: task.settings.lanRateLimitKbps ?? 0,
        blockSize: manifest.blockSize,
      };
      const arm = () => {
        clearTimeout(deadlineTimer);
        deadlineTimer = setTimeout(
          () => {
            deadlinePassed = true;
            round.abort();
          },
          Math.max(0, followDeadlineMs(watch, deadline) - performance.now()),
        );
      };
      arm();
      // PEER_HAVE before JOIN: a successor decides what to skip when the last follower joins.
      this.sendHoldings(held);
      this.election?.sendJoin(held.length);
      const multicast = new MulticastSource({
        socket: options.socket,
        taskId: task.taskId,
        deviceId: options.deviceId,
        lanKey: this.lanKey,
        silenceTimeoutMs: options.silenceTimeoutMs,
        representativeId,
      });
      const watched = withBlockHook(multicast, () => {
        blocks++;
        watch.lastBlockAtMs = performance.now();
        arm();
      });
      return { kind: 'complete', result: await this.fetchInto([watched], round.signal) };
    } catch (error) {
      if (options.signal.aborted) throw error;
      if (deadlinePassed) return { kind: 'deadline', waitedMs: performance.now() - (watch.lastBlockAtMs ?? watch.sinceMs), blocks };
      if (error instanceof DownloadAbortedError) return { kind: 'switched' };
      if (error instanceof MulticastIncompleteError) {
        logger.warn({ taskId: task.taskId, reason: error.reason, missing: error.missing.length }, `multicast incomplete: ${error.message}`);
        return { kind: error.reason === 'closed' ? 'closed' : 'lost' };
      }
      logger.warn({ taskId: task.taskId, err: (error as Error).message }, 'multicast failed; the rest from peers and the origin');
      return { kind: 'closed' };
    } finally {
      clearTimeout(deadlineTimer);
      this.endRound(round);
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
        const peers = [...new Set([...this.peers.values(), ...named])];
        if (peers.length === 0) throw new PeerBlocksUnavailableError(request.blocks, 'no peer announced the content');
        this.options.logger.info({ taskId: this.options.task.taskId, peers: peers.length, namedByControlPlane: named.length, blocks: request.blocks.length }, 'fetching from peers');
        const source = new PeerSource({ peers });
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

/** A role as a comparable key: the same representative followed is the same role. */
function roleKey(outcome: ElectionOutcome): string {
  return outcome.role === 'follower' ? `follower:${outcome.representativeId}` : outcome.role;
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

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new DownloadAbortedError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new DownloadAbortedError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
