import type { ByteSource, LanActivity, LanSession, TaskAssignedV1 } from '@fleetcast/contracts';
import { Manifest, blockCount } from '@fleetcast/content';
import { ElectionOptions, MAX_HAVE_RANGES, Packet, senderIdOf, sessionIdOf } from '@fleetcast/lan-protocol';
import type { Logger } from '@fleetcast/telemetry';
import { compactRanges } from '../core/block-ranges';
import { DownloadAbortedError, DownloadSource, FetchBlocksRequest } from '../core/download-source';
import { PeerBlocksUnavailableError } from '../core/peer-errors';
import { CacheDownloadResult, downloadIntoCache } from './cache-download';
import { ContentCache } from './content-cache';
import { ElectionOutcome, LanElection } from './lan-election';
import { MulticastIncompleteError, MulticastSource } from './multicast-source';
import { MulticastSender } from './multicast-sender';
import { PeerSource } from './peer-source';
import { SessionBinding, UdpMulticastSocket } from './udp-multicast';

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
  /** A follower's wait for a silent session before it takes the rest from the origin (MULTICAST_SOURCE_DEFAULTS). */
  silenceTimeoutMs?: number;
}

export interface LanDownloadResult extends CacheDownloadResult {
  outcome: ElectionOutcome;
}

/**
 * A task's download through its subnet's multicast session: runs the election, then
 *
 * - as representative: downloads from the origin into the partial file and tells a MulticastSender
 *   each verified block (the LAN follows the WAN); the multicast starts after the session start
 *   delay, or as soon as every other target device of the subnet has joined; it returns once the
 *   session has closed, so the final status report carries the session's figures;
 * - as follower: sends JOIN and receives the multicast; what the session ended without comes from
 *   the origin (exactly the missing blocks: `downloadIntoCache` passes what is left to the next source);
 * - on `fallback` (weight 0 and no representative): downloads from the origin as without multicast.
 *
 * Representative failover is not handled here yet: a follower whose representative dies waits for
 * the multicast source's silence timeout and then takes the rest from the origin.
 */
export class LanDownload {
  private readonly lanKey: Uint8Array;
  private election: LanElection | null = null;
  private sender: MulticastSender | null = null;
  private multicast: MulticastSource | null = null;
  private role: LanActivity['role'] = 'none';
  private sessionStartedAt: string | null = null;
  private fallbackBlocks = 0;
  /** Sender IDs heard in JOIN or PEER_HAVE packets of the session. */
  private readonly joined = new Set<string>();
  /** Called when a new device joined (the representative checks whether all targets are in). */
  private onJoin: () => void = () => undefined;
  /** Peer block servers announced in PEER_HAVE, by sender ID: where a follower repairs before the origin. */
  private readonly peers = new Map<string, string>();
  private members: SessionBinding | null = null;

  constructor(private readonly options: LanDownloadOptions) {
    this.lanKey = new Uint8Array(Buffer.from(options.session.sessionKey, 'base64'));
  }

  /** This device's part in the session so far (running totals), for the status reports. */
  activity(): LanActivity {
    const sourceInvalid = Object.values(this.multicast?.stats.invalid ?? {}).reduce((a, b) => a + b, 0);
    const stats = this.sender?.stats;
    return {
      role: this.role,
      sessionStartedAt: this.sessionStartedAt,
      // IP bytes of the data, parity and ANNOUNCE packets the sender's pacer let out (headers included: what the LAN carried).
      lanBytesSent: stats?.bytesSent ?? 0,
      repairs: this.role === 'representative' ? (stats?.repairParitySent ?? 0) : this.fallbackBlocks,
      invalidPackets: (this.election?.invalidPackets ?? 0) + sourceInvalid,
    };
  }

  async run(): Promise<LanDownloadResult> {
    const { options } = this;
    const { cache, manifest, signal } = options;
    const partial = await cache.openPartial(manifest);
    const held = blockCount(manifest.size, manifest.blockSize) - partial.missingBlocks().length;
    this.members = options.socket.join(sessionIdOf(options.task.taskId), this.lanKey, { onPacket: (packet, from) => this.onMember(packet, from.address) });
    const election = new LanElection({
      socket: options.socket,
      taskId: options.task.taskId,
      deviceId: options.deviceId,
      lanKey: this.lanKey,
      weight: options.weight,
      blocksHeld: held,
      logger: options.logger,
      election: options.election,
      // The sender announces every second (the election's keep-alive interval) from the moment it
      // exists, and a discovery window is 2.5 keep-alives: the election's own ANNOUNCEs are not needed.
      onAnnounceWanted: () => undefined,
      onSteppedDown: (representativeId) => {
        options.logger.warn({ taskId: options.task.taskId, representativeId }, 'stepped down as representative; the origin download continues, the multicast stops');
        this.sender?.stop();
      },
    });
    this.election = election;
    election.start();
    try {
      const outcome = await untilAborted(election.outcome, signal);
      options.logger.info({ taskId: options.task.taskId, ...outcome }, 'LAN session role');
      switch (outcome.role) {
        case 'representative':
          this.role = 'representative';
          return { outcome, ...(await this.represent()) };
        case 'follower':
          this.role = 'receiver';
          election.sendJoin(held);
          // The representative's own election is what it needs; this device's stops here (see the class comment).
          election.stop();
          return { outcome, ...(await this.follow()) };
        default:
          options.logger.warn({ taskId: options.task.taskId, reason: outcome.reason }, 'no multicast session: downloading from the origin');
          election.stop();
          return { outcome, ...(await downloadIntoCache({ cache, manifest, sources: [options.origin], signal, onProgress: options.onProgress })) };
      }
    } finally {
      election.stop();
      this.members?.leave();
    }
  }

  /** JOIN and PEER_HAVE of the session's other devices, whatever this device's role. */
  private onMember(packet: Packet, address: string): void {
    if (packet.senderId === senderIdOf(this.options.deviceId)) return;
    if (packet.type !== 'join' && packet.type !== 'peer-have') return;
    if (packet.type === 'peer-have' && packet.ranges.length > 0) {
      this.peers.set(packet.senderId, address.includes(':') ? `http://[${address}]:${packet.port}` : `http://${address}:${packet.port}`);
    }
    if (!this.joined.has(packet.senderId)) {
      this.joined.add(packet.senderId);
      this.onJoin();
    }
  }

  /** Tells the subnet this device now serves the whole content to peers (when it runs a peer server). */
  private announceHeld(): void {
    const port = this.options.peerPort;
    if (port === undefined || this.members === null) return;
    const blocks = blockCount(this.options.manifest.size, this.options.manifest.blockSize);
    const ranges = compactRanges(Array.from({ length: blocks }, (_, i) => i)).slice(0, MAX_HAVE_RANGES);
    this.members.send({ type: 'peer-have', sessionId: sessionIdOf(this.options.task.taskId), senderId: senderIdOf(this.options.deviceId), port, ranges });
  }

  private async represent(): Promise<CacheDownloadResult> {
    const { options, joined } = this;
    const { cache, manifest, task, signal, logger } = options;
    const partial = await cache.openPartial(manifest);
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
        paths: [partial.partPath, cache.path(manifest.contentId)],
        session: { rateKbps: task.settings.lanRateLimitKbps ?? 0 },
      });
    } catch (error) {
      // Content the session cannot lay out (an empty file): the followers fall back after their silence timeout.
      logger.warn({ taskId: task.taskId, err: (error as Error).message }, 'cannot multicast this content; downloading from the origin only');
      return downloadIntoCache({ cache, manifest, sources: [options.origin], signal, onProgress: options.onProgress });
    }
    this.sender = sender;
    const blocks = blockCount(manifest.size, manifest.blockSize);
    for (let i = 0; i < blocks; i++) if (partial.has(i)) sender.blockReady(i);

    const targets = new Set(options.session.subnetDeviceIds.filter((id) => id !== options.deviceId).map(senderIdOf));
    let startTimer: NodeJS.Timeout | null = null;
    const start = (why: string) => {
      if (this.sessionStartedAt !== null) return;
      if (startTimer !== null) clearTimeout(startTimer);
      this.sessionStartedAt = new Date().toISOString();
      logger.info({ taskId: task.taskId, why, joined: joined.size, targets: targets.size }, 'multicast session starting');
      sender.start();
    };
    const allJoined = () => targets.size > 0 && [...targets].every((id) => joined.has(id));
    this.onJoin = () => {
      if (allJoined()) start('every target device of the subnet joined');
    };
    if (allJoined()) start('every target device of the subnet joined');
    else startTimer = setTimeout(() => start('session start delay over'), task.settings.sessionStartDelaySeconds * 1000);

    try {
      const result = await downloadIntoCache({
        cache,
        manifest,
        sources: [withBlockHook(options.origin, (index) => sender.blockReady(index))],
        signal,
        onProgress: options.onProgress,
      });
      // Blocks that were in the cache already, or resumed: all are ready now.
      for (let i = 0; i < blocks; i++) sender.blockReady(i);
      this.announceHeld();
      const stats = await untilAborted(
        sender.done.catch((error: unknown) => {
          // Our own copy is complete and verified: a broken session costs the followers a fallback, not us the task.
          logger.warn({ taskId: task.taskId, err: (error as Error).message }, 'multicast session ended with an error');
          return sender.stats;
        }),
        signal,
      );
      logger.info({ taskId: task.taskId, stats, lanBytesPerContentByte: Number((stats.bytesSent / Math.max(1, manifest.size)).toFixed(4)) }, 'multicast session closed');
      return result;
    } finally {
      if (startTimer !== null) clearTimeout(startTimer);
      sender.stop();
    }
  }

  private async follow(): Promise<CacheDownloadResult> {
    const { options } = this;
    const { cache, manifest, task, signal, logger } = options;
    const multicast = new MulticastSource({
      socket: options.socket,
      taskId: task.taskId,
      deviceId: options.deviceId,
      lanKey: this.lanKey,
      silenceTimeoutMs: options.silenceTimeoutMs,
    });
    this.multicast = multicast;
    const logged: DownloadSource = {
      kind: multicast.kind,
      fetchBlocks: async (request) => {
        try {
          await multicast.fetchBlocks(request);
        } catch (error) {
          if (error instanceof MulticastIncompleteError) {
            logger.warn({ taskId: task.taskId, reason: error.reason, missing: error.missing.length }, `multicast incomplete: ${error.message}; the rest from the origin`);
          } else if (!(error instanceof DownloadAbortedError)) {
            logger.warn({ taskId: task.taskId, err: (error as Error).message }, 'multicast failed; the rest from the origin');
          }
          throw error;
        }
      },
    };
    const repaired = () => {
      this.fallbackBlocks++;
    };
    const origin = withBlockHook(options.origin, repaired);
    const sources = task.settings.peerDownloadAllowed ? [logged, withBlockHook(this.peerSource(), repaired), origin] : [logged, origin];
    const result = await downloadIntoCache({ cache, manifest, sources, signal, onProgress: options.onProgress });
    this.announceHeld();
    return result;
  }

  /**
   * Peer repair over the peer servers announced so far: built when the multicast has ended short,
   * so it asks the devices that completed by then. With none known, it passes everything to the origin.
   */
  private peerSource(): DownloadSource {
    return {
      kind: 'peer',
      fetchBlocks: async (request) => {
        const peers = [...this.peers.values()];
        if (peers.length === 0) throw new PeerBlocksUnavailableError(request.blocks, 'no peer announced the content');
        this.options.logger.info({ taskId: this.options.task.taskId, peers: peers.length, blocks: request.blocks.length }, 'peer repair');
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
