import { PEER_PASS_HEADER, type ByteSource, type SwarmAnnounce, type SwarmPeer, type SwarmView } from '@fleetcast/contracts';
import type { Manifest } from '@fleetcast/content';
import type { Logger } from '@fleetcast/telemetry';
import { compactRanges } from '../core/block-ranges';
import { DownloadAbortedError, DownloadSource, DownloadSourceError } from '../core/download-source';
import { blockAvailability, peerBatch, peerBlocksInOrder, peersHolding, upstreamBlocks } from '../core/swarm-plan';
import type { CacheDownloadResult } from './cache-download';
import { ContentCache, ContentHashMismatchError, PartialContent } from './content-cache';
import { PeerSource } from './peer-source';

/**
 * Peer-to-peer download inside an office (docs/p2p.md). The device announces what it holds to the
 * tasks service about once a second and gets its office's view back: which peers hold which blocks,
 * the parent office's holders, and which one device holds the lease to bring the content across the
 * office's WAN link. Two workers run against that view:
 * - the peer worker fetches, rarest first, the missing blocks that peers of the office hold, from
 *   several peers at once (PeerSource: each block verified against the manifest before it is written);
 * - the upstream worker runs only while this device holds the lease: it fetches the blocks no peer
 *   of the office holds, a few at a time, from the parent office's holders, then the origin.
 * So the content crosses the office's WAN link about once, and spreads inside the office as soon as
 * the first blocks arrive. A peer that sends a corrupt block is dropped for this content and
 * reported. When the tasks service cannot be reached for long, the device fetches the rest from the
 * origin alone (and says so).
 */

export interface SwarmDownloadOptions {
  cache: ContentCache;
  manifest: Manifest;
  taskId: string;
  /** The tasks service's swarm view for what this device holds (NatsLink.swarmAnnounce). */
  announce: (request: SwarmAnnounce) => Promise<SwarmView>;
  /** The origin, last resort of the upstream fetcher. */
  origin: DownloadSource;
  /** The port of this device's peer block server; null when it serves nobody. */
  peerPort: number | null;
  /** The pass header that peers' block servers ask for (null: none to show). */
  passHeader: () => string | null;
  signal: AbortSignal;
  logger: Logger;
  /** Bytes received, by source: office peers count as `peer`, the parent office's holders as `parent`, the origin as `origin`. */
  onProgress?: (source: ByteSource, bytes: number) => void;
  random?: () => number;
  timing?: Partial<typeof SWARM_DOWNLOAD_DEFAULTS>;
}

/**
 * - 16 blocks per peer batch: 16 MiB, about a second's work on a LAN from a few peers at once,
 *   after which the fetcher reads the view again (new holders, new blocks).
 * - 8 blocks per upstream batch: 8 MiB at 20 Mbit/s is ~3 s of WAN; the fetcher does not fetch
 *   across the link a block a peer meanwhile holds for longer than that.
 * - 8 peers asked per batch: enough to spread the load (a peer serves at most 2 requests of one
 *   fetcher at once), few enough that the holdings questions of one batch stay cheap.
 * - 4 blocks of a batch per peer at most (2 requests at once, twice): a batch waits for its last
 *   block, so a batch of 16 from the one device that holds the content when an office starts
 *   keeps every fetcher on that device's upload for 16 blocks (11 fetchers: ~15 s at 100 Mbit/s)
 *   while they meanwhile hold blocks for each other; 4 then a new view spreads them (core/swarm-plan.ts).
 * - 5 announces failed in a row (5 s): the tasks service is unreachable; the device fetches the
 *   rest alone from the origin rather than wait for a view.
 * - 20 s without an upstream block while holding the lease: the WAN fetch is stuck (parent and
 *   origin both failing); the device gives the lease up for 30 s so that another device may try.
 * - 30 s of rest for a peer that failed every request of a batch: gone, asleep or refusing; its
 *   blocks count as not held meanwhile, so that the office fetches them across the link instead.
 */
export const SWARM_DOWNLOAD_DEFAULTS = {
  peerBatchBlocks: 16,
  upstreamBatchBlocks: 8,
  peersPerBatch: 8,
  peerBlocksPerPeer: 4,
  maxAnnounceFailures: 5,
  upstreamStallMs: 20_000,
  upstreamBackOffMs: 30_000,
  /** Wait before trying again when there is nothing to fetch yet (the next view comes within a second). */
  idleWaitMs: 500,
  /** A peer that failed a whole batch is left out this long: a sleeping laptop's blocks then come from elsewhere. */
  peerRestMs: 30_000,
};

/** What the swarm download did, for the log, the status and tests. */
export interface SwarmDownloadStats {
  /** Where the device stood: `swarm`, or `origin` with the reason it went alone. */
  mode: 'swarm' | 'origin';
  reason: string | null;
  office: string | null;
  /** It held the office's upstream lease at some point. */
  upstream: boolean;
  bytesFromPeers: number;
  bytesFromParent: number;
  bytesFromOrigin: number;
  blocksFromPeers: number;
  announces: number;
  announceFailures: number;
  /** Peers dropped for this content because they sent a block that did not match the manifest. */
  badPeers: string[];
}

/** Resolves after `ms`, or at once when woken or aborted. */
class Wakeup {
  private wakers: Array<() => void> = [];

  wake(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const w of wakers) w();
  }

  wait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wakers.push(done);
    });
  }
}

export class SwarmDownload {
  readonly stats: SwarmDownloadStats = {
    mode: 'swarm',
    reason: null,
    office: null,
    upstream: false,
    bytesFromPeers: 0,
    bytesFromParent: 0,
    bytesFromOrigin: 0,
    blocksFromPeers: 0,
    announces: 0,
    announceFailures: 0,
    badPeers: [],
  };
  private readonly timing: typeof SWARM_DOWNLOAD_DEFAULTS;
  private readonly random: () => number;
  private readonly wakeup = new Wakeup();
  private readonly busy = new Set<number>();
  private readonly bad = new Set<string>();
  /**
   * Peers that failed every request of a batch (gone, asleep, refusing this device), until when
   * they are left out. A complete holder stays in the view for a day: without this, a device whose
   * only holders went away would count their blocks as held in the office and never ask for the
   * upstream lease.
   */
  private readonly resting = new Map<string, number>();
  private view: SwarmView | null = null;
  private failuresInARow = 0;
  private alone = false;
  private done = false;
  private lastUpstreamProgressMs = Date.now();
  private upstreamPausedUntilMs = 0;
  private partial: PartialContent | null = null;
  /** The first failure a worker could not get past (the sink's, a rejected write): ends the download. */
  private fatal: unknown = null;

  constructor(private readonly options: SwarmDownloadOptions) {
    this.timing = { ...SWARM_DOWNLOAD_DEFAULTS, ...options.timing };
    this.random = options.random ?? Math.random;
  }

  async run(): Promise<CacheDownloadResult> {
    const { cache, manifest, signal } = this.options;
    if (await cache.has(manifest.contentId)) {
      await cache.touch(manifest.contentId);
      await this.announceComplete();
      return { path: cache.path(manifest.contentId), alreadyCached: true, blocksFetched: 0 };
    }
    const partial = await cache.openPartial(manifest);
    this.partial = partial;
    const before = partial.missingBlocks().length;
    // The first view tells what the office holds; the second, at once, asks for the lease if it must.
    await this.refreshView();
    if (this.view !== null && !this.alone) await this.refreshView();
    const workers = [this.announceLoop(), this.peerWorker(), this.upstreamWorker()];
    await Promise.all(workers);
    if (signal.aborted) throw new DownloadAbortedError();
    if (this.fatal !== null) throw this.fatal;
    let path: string;
    try {
      path = await partial.complete();
    } catch (error) {
      if (!(error instanceof ContentHashMismatchError)) throw error;
      // Blocks that changed on disk are missing again: the origin brings them, as downloadIntoCache does.
      await this.options.origin.fetchBlocks({ manifest, blocks: partial.missingBlocks(), signal, sink: (i, d) => partial.writeBlock(i, d), onProgress: (b) => this.count('origin', b) });
      path = await partial.complete();
    }
    await this.announceComplete();
    this.options.logger.info({ taskId: this.options.taskId, ...this.stats, badPeers: this.stats.badPeers }, 'swarm download complete');
    return { path, alreadyCached: false, blocksFetched: before };
  }

  private get missing(): number[] {
    return this.partial!.missingBlocks();
  }

  private finished(): boolean {
    return this.done || this.options.signal.aborted || this.fatal !== null;
  }

  private markDoneIfComplete(): void {
    if (!this.done && this.missing.length === 0) {
      this.done = true;
      this.wakeup.wake();
    }
  }

  /** Announces what this device holds and keeps the office's view; counts failures in a row. */
  private async refreshView(): Promise<void> {
    const partial = this.partial!;
    const missing = partial.missingBlocks();
    const held: number[] = [];
    for (let i = 0; i < partial.blockCount; i++) if (partial.has(i)) held.push(i);
    const availability = blockAvailability(partial.blockCount, this.livePeers(this.view?.peers ?? []));
    // Before the first view the device cannot tell what its office holds: it asks for no lease yet.
    const needsUpstream = this.view !== null && missing.some((b) => availability[b] === 0) && Date.now() >= this.upstreamPausedUntilMs;
    try {
      const view = await this.options.announce({
        taskId: this.options.taskId,
        peerPort: this.options.peerPort,
        complete: missing.length === 0,
        runs: compactRanges(held),
        upstream: needsUpstream,
      });
      this.stats.announces += 1;
      this.failuresInARow = 0;
      if (view.upstream.mine && !(this.view?.upstream.mine ?? false)) this.lastUpstreamProgressMs = Date.now();
      this.view = view;
      this.stats.office = view.office?.id ?? null;
      if (view.upstream.mine) this.stats.upstream = true;
      if (view.noSwarmReason !== null) this.goAlone(view.noSwarmReason);
    } catch (error) {
      this.stats.announceFailures += 1;
      this.failuresInARow += 1;
      this.options.logger.warn({ taskId: this.options.taskId, err: (error as Error).message, inARow: this.failuresInARow }, 'swarm announce failed');
      if (this.failuresInARow >= this.timing.maxAnnounceFailures) this.goAlone(`the tasks service did not answer ${this.failuresInARow} announces in a row (${(error as Error).message})`);
    }
    this.wakeup.wake();
  }

  private goAlone(reason: string): void {
    if (this.alone) return;
    this.alone = true;
    this.stats.mode = 'origin';
    this.stats.reason = reason;
    this.options.logger.info({ taskId: this.options.taskId, reason }, 'swarm: fetching from the origin alone');
  }

  private async announceLoop(): Promise<void> {
    const { signal } = this.options;
    while (!this.finished() && !this.alone) {
      await this.wakeup.wait(this.view?.announceIntervalMs ?? 1000, signal);
      if (this.finished() || this.alone) break;
      await this.refreshView();
      this.markDoneIfComplete();
    }
  }

  /** Peers not dropped for a bad block, nor resting after a batch they failed whole. */
  private livePeers(peers: readonly SwarmPeer[]): SwarmPeer[] {
    const now = Date.now();
    return peers.filter((p) => !this.bad.has(p.url) && (this.resting.get(p.url) ?? 0) <= now);
  }

  private peerSource(peers: readonly SwarmPeer[]): PeerSource {
    return new PeerSource({
      peers: peers.map((p) => p.url),
      maxParallel: 8,
      maxParallelPerPeer: 2,
      headers: (): Record<string, string> => {
        const pass = this.options.passHeader();
        return pass === null ? {} : { [PEER_PASS_HEADER]: pass };
      },
    });
  }

  /** Fetches `blocks` from `peers`; returns once the batch ended, whatever came of it. */
  private async fetchFromPeers(peers: readonly SwarmPeer[], blocks: readonly number[], tier: 'office' | 'parent'): Promise<void> {
    const { manifest, signal } = this.options;
    const source = this.peerSource(peers);
    try {
      await source.fetchBlocks({
        manifest,
        blocks,
        signal,
        sink: (i, d) => this.partial!.writeBlock(i, d),
        onProgress: (bytes) => {
          if (tier === 'office') this.stats.bytesFromPeers += bytes;
          else this.stats.bytesFromParent += bytes;
          this.options.onProgress?.(tier === 'office' ? 'peer' : 'parent', bytes);
        },
      });
    } catch (error) {
      if (signal.aborted) return;
      // Blocks no peer served stay missing: the next batch (or the upstream fetcher) takes them.
      if (!(error instanceof DownloadSourceError && error.retryable)) this.fatal ??= error;
    } finally {
      source.close();
      this.stats.blocksFromPeers += source.stats.blocksDelivered;
      for (const peer of source.stats.byPeer) {
        if (peer.blocksDelivered === 0 && peer.failedRequests > 0) this.resting.set(peer.url, Date.now() + this.timing.peerRestMs);
        if (peer.corruptBlocks > 0 && !this.bad.has(peer.url)) {
          this.bad.add(peer.url);
          this.stats.badPeers.push(peer.url);
          this.options.logger.warn({ taskId: this.options.taskId, peer: peer.url, corruptBlocks: peer.corruptBlocks }, 'a peer sent blocks that do not match the manifest: dropped for this content');
        }
      }
    }
  }

  private async peerWorker(): Promise<void> {
    const { signal } = this.options;
    while (!this.finished()) {
      const peers = this.livePeers(this.view?.peers ?? []);
      const missing = this.missing;
      if (missing.length === 0) {
        this.markDoneIfComplete();
        break;
      }
      const availability = blockAvailability(this.partial!.blockCount, peers);
      const order = peerBlocksInOrder(missing, availability, this.busy, this.random);
      const planned = peerBatch(order, peers, { maxBlocks: this.timing.peerBatchBlocks, perPeer: this.timing.peerBlocksPerPeer, maxPeers: this.timing.peersPerBatch }, this.random);
      const batch = planned.blocks;
      if (batch.length === 0) {
        await this.wakeup.wait(this.timing.idleWaitMs, signal);
        continue;
      }
      const holders = planned.peers.map((i) => peers[i]!);
      for (const b of batch) this.busy.add(b);
      const before = this.stats.blocksFromPeers;
      try {
        await this.fetchFromPeers(holders, batch, 'office');
      } finally {
        for (const b of batch) this.busy.delete(b);
      }
      this.markDoneIfComplete();
      // A batch that brought nothing: the next view may name other peers; do not hammer these meanwhile.
      if (this.stats.blocksFromPeers === before && !this.finished()) await this.wakeup.wait(this.timing.idleWaitMs, signal);
    }
  }

  /** Whether this device fetches across the WAN link now: it holds the lease and is not stuck, or it went alone. */
  private fetchesUpstream(): boolean {
    if (this.alone) return true;
    if (!(this.view?.upstream.mine ?? false)) return false;
    const now = Date.now();
    if (now < this.upstreamPausedUntilMs) return false;
    if (now - this.lastUpstreamProgressMs > this.timing.upstreamStallMs) {
      // Stuck: let another device of the office take the lease (the next announce gives it up).
      this.upstreamPausedUntilMs = now + this.timing.upstreamBackOffMs;
      this.options.logger.warn({ taskId: this.options.taskId, stalledMs: now - this.lastUpstreamProgressMs }, 'swarm: no block came across the WAN link for too long; giving the upstream lease up');
      return false;
    }
    return true;
  }

  private async upstreamWorker(): Promise<void> {
    const { manifest, signal, origin } = this.options;
    while (!this.finished()) {
      if (!this.fetchesUpstream()) {
        await this.wakeup.wait(this.timing.idleWaitMs, signal);
        continue;
      }
      const officePeers = this.alone ? [] : this.livePeers(this.view?.peers ?? []);
      const availability = blockAvailability(this.partial!.blockCount, officePeers);
      const batch = upstreamBlocks(this.missing, availability, this.busy, this.alone ? Number.MAX_SAFE_INTEGER : this.timing.upstreamBatchBlocks);
      if (batch.length === 0) {
        // Nothing to bring across the link now: not a stall.
        this.lastUpstreamProgressMs = Date.now();
        this.markDoneIfComplete();
        await this.wakeup.wait(this.timing.idleWaitMs, signal);
        continue;
      }
      for (const b of batch) this.busy.add(b);
      try {
        const parentPeers = this.alone ? [] : this.livePeers(this.view?.parentPeers ?? []);
        const fromParent = parentPeers.length === 0 ? [] : peersHolding(batch, parentPeers).map((i) => parentPeers[i]!);
        if (fromParent.length > 0) await this.fetchFromPeers(fromParent.slice(0, this.timing.peersPerBatch), batch, 'parent');
        const rest = batch.filter((b) => !this.partial!.has(b));
        if (rest.length > 0 && !this.finished()) {
          try {
            await origin.fetchBlocks({ manifest, blocks: rest, signal, sink: (i, d) => this.partial!.writeBlock(i, d), onProgress: (b) => this.count('origin', b) });
          } catch (error) {
            if (signal.aborted) return;
            if (!(error instanceof DownloadSourceError && error.retryable) || this.alone) this.fatal ??= error;
            else this.options.logger.warn({ taskId: this.options.taskId, err: (error as Error).message }, 'swarm: the origin failed a batch; trying again');
          }
        }
        if (batch.some((b) => this.partial!.has(b))) this.lastUpstreamProgressMs = Date.now();
      } finally {
        for (const b of batch) this.busy.delete(b);
      }
      this.markDoneIfComplete();
    }
  }

  private count(source: 'origin', bytes: number): void {
    this.stats.bytesFromOrigin += bytes;
    this.options.onProgress?.(source, bytes);
  }

  /** Tells the office this device holds everything (best effort: the view only helps others). */
  private async announceComplete(): Promise<void> {
    if (this.alone) return;
    try {
      await this.options.announce({ taskId: this.options.taskId, peerPort: this.options.peerPort, complete: true, runs: [], upstream: false });
    } catch (error) {
      this.options.logger.debug({ taskId: this.options.taskId, err: (error as Error).message }, 'swarm: the completion announce failed');
    }
  }
}
