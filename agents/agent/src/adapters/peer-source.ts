import http, { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { Manifest, blockCount, blockRange, verifyBlock } from '@fleetcast/content';
import { AgentErrorCode } from '../core/agent-errors';
import { BackoffPolicy, backoffDelayMs } from '../core/backoff';
import { expandRanges } from '../core/block-ranges';
import { DownloadAbortedError, DownloadSource, DownloadSourceError, FetchBlocksRequest } from '../core/download-source';
import { PeerView, choosePeer } from '../core/peer-choice';
import { PeerBlocksUnavailableError } from '../core/peer-errors';

/**
 * Peer repair, the fetching side: a DownloadSource over the peer block servers of the subnet (see
 * peer-block-server.ts). It asks every peer what it holds, then fetches each wanted block from a
 * peer that holds it, spread over the peers, a few requests at a time. Every block is verified
 * against the manifest before the sink; a peer that sends a bad one is not asked again in this
 * fetch and the block is fetched elsewhere. Blocks that no peer served end the fetch with a
 * retryable PeerBlocksUnavailableError naming them, so the next source (the origin, last) fetches
 * only those.
 *
 * Peers are given as base URLs (http://address:port). Discovery is not this class's business: the
 * multicast layer hears PEER_HAVE packets and passes their senders.
 */

export interface PeerSourceOptions {
  /** Base URLs of peer block servers, e.g. http://192.168.1.20:47471. */
  peers: readonly string[];
  /** Block requests open at once over all peers. */
  maxParallel?: number;
  /** Block requests open at once to one peer. */
  maxParallelPerPeer?: number;
  /** Failed requests for one block (over all peers) before it is left to the next source. */
  maxAttemptsPerBlock?: number;
  /** Back-off of a peer that said it is busy or failed a request. */
  retry?: BackoffPolicy;
  /** A peer silent for this long (connecting, headers or body) is given up for that request. */
  idleTimeoutMs?: number;
  /** Jitter in [0, 1); replaceable so that a test can make delays exact. */
  random?: () => number;
  /** Headers of every request, read per request (the peer pass, which is renewed while a fetch runs). */
  headers?: () => Record<string, string>;
}

/**
 * Defaults.
 * - 4 requests at once, 2 per peer: with two peers both send at once, and a peer serves at most 2
 *   of its 4 upload slots (PEER_SERVER_DEFAULTS) to one fetcher, leaving room for the others.
 * - 4 attempts per block: enough for a busy answer or a lost connection at two peers each; a block
 *   that fails more goes to the origin rather than waiting on a struggling subnet.
 * - 100 ms doubling to 2 s: a busy peer frees a slot in the time a few blocks take on a LAN.
 * - 10 s idle: a LAN peer sends a 1 MiB block within a second even on slow Wi-Fi; 10 s of silence
 *   means it is gone, and the origin is better than waiting.
 */
export const PEER_SOURCE_DEFAULTS = {
  maxParallel: 4,
  maxParallelPerPeer: 2,
  maxAttemptsPerBlock: 4,
  retry: { baseDelayMs: 100, maxDelayMs: 2000 } satisfies BackoffPolicy,
  idleTimeoutMs: 10_000,
};

/** Largest holdings answer read: a 16 GiB package at 1 MiB blocks, fragmented to every other block, is ~200 KiB. */
const MAX_HOLDINGS_BYTES = 1024 * 1024;

/** Per peer, what it gave in this source's life (all fetches). */
export interface PeerStats {
  url: string;
  blocksDelivered: number;
  /** Body bytes of blocks received, good or bad. */
  bytesReceived: number;
  corruptBlocks: number;
  failedRequests: number;
}

export interface PeerSourceStats {
  holdingsRequests: number;
  blockRequests: number;
  blocksDelivered: number;
  bytesReceived: number;
  /** Blocks that arrived and did not match the manifest; never written. */
  corruptBlocks: number;
  /** Requests that failed without a block: connection errors, timeouts, 404 after a claim, 5xx. */
  failedRequests: number;
  /** 503 answers (a peer with all upload slots taken). */
  busyAnswers: number;
  /** Peers marked bad in some fetch for a corrupt block. */
  peersMarkedBad: number;
  byPeer: PeerStats[];
}

const holdingsSchema = z.object({
  contentId: z.string(),
  size: z.number().int().nonnegative(),
  blockSize: z.number().int().positive(),
  ranges: z.array(z.object({ first: z.number(), count: z.number() })),
});

/** One peer's state during one fetch: the chooser's view plus bookkeeping. */
interface PeerState extends PeerView {
  holds: Set<number>;
  failures: number;
  stats: PeerStats;
}

/** How one block request ended. */
type BlockOutcome =
  | { kind: 'delivered' }
  | { kind: 'corrupt' }
  /** The peer no longer holds it (evicted, layout changed): drop the claim, no back-off. */
  | { kind: 'not-held' }
  | { kind: 'busy' }
  | { kind: 'failed'; reason: string };

export class PeerSource implements DownloadSource {
  readonly kind = 'peer' as const;
  readonly stats: PeerSourceStats;
  private readonly peers: readonly URL[];
  private readonly maxParallel: number;
  private readonly maxParallelPerPeer: number;
  private readonly maxAttemptsPerBlock: number;
  private readonly retry: BackoffPolicy;
  private readonly idleTimeoutMs: number;
  private readonly random: () => number;
  private readonly headers: () => Record<string, string>;
  /** Keeps connections to peers open across blocks: a block costs a request, not a TCP handshake. */
  private readonly agent: http.Agent;

  constructor(options: PeerSourceOptions) {
    this.peers = options.peers.map((base) => {
      const url = new URL(base);
      if (url.protocol !== 'http:') throw new RangeError(`a peer URL must be http, got ${base}`);
      return url;
    });
    this.maxParallel = options.maxParallel ?? PEER_SOURCE_DEFAULTS.maxParallel;
    this.maxParallelPerPeer = options.maxParallelPerPeer ?? PEER_SOURCE_DEFAULTS.maxParallelPerPeer;
    this.maxAttemptsPerBlock = options.maxAttemptsPerBlock ?? PEER_SOURCE_DEFAULTS.maxAttemptsPerBlock;
    this.retry = options.retry ?? PEER_SOURCE_DEFAULTS.retry;
    this.idleTimeoutMs = options.idleTimeoutMs ?? PEER_SOURCE_DEFAULTS.idleTimeoutMs;
    this.random = options.random ?? Math.random;
    this.headers = options.headers ?? (() => ({}));
    this.agent = new http.Agent({ keepAlive: true, maxSockets: this.maxParallelPerPeer });
    this.stats = {
      holdingsRequests: 0,
      blockRequests: 0,
      blocksDelivered: 0,
      bytesReceived: 0,
      corruptBlocks: 0,
      failedRequests: 0,
      busyAnswers: 0,
      peersMarkedBad: 0,
      byPeer: this.peers.map((url) => ({ url: url.origin, blocksDelivered: 0, bytesReceived: 0, corruptBlocks: 0, failedRequests: 0 })),
    };
  }

  /** Closes the kept-alive connections; the source stays usable (new ones are opened on demand). */
  close(): void {
    this.agent.destroy();
  }

  async fetchBlocks(request: FetchBlocksRequest): Promise<void> {
    const { manifest, signal } = request;
    const total = blockCount(manifest.size, manifest.blockSize);
    const wanted = new Set<number>();
    for (const index of request.blocks) {
      if (!Number.isInteger(index) || index < 0 || index >= total) {
        throw new DownloadSourceError(AgentErrorCode.DownloadSizeMismatch, `block ${index} is outside the manifest (0..${total - 1})`, false);
      }
      wanted.add(index);
    }
    if (wanted.size === 0) return;
    throwIfAborted(signal);

    // One controller for this fetch: a sink failure or the caller's abort stops every open request.
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const peers = await Promise.all(this.peers.map((url, i) => this.askHoldings(url, i, manifest, stop.signal)));
      throwIfAborted(signal);
      await this.fetchFromPeers(request, peers, wanted, stop);
    } finally {
      signal.removeEventListener('abort', onAbort);
      stop.abort();
    }
  }

  /** What one peer holds of the content; an unreachable or inconsistent peer holds nothing. */
  private async askHoldings(base: URL, i: number, manifest: Manifest, signal: AbortSignal): Promise<PeerState> {
    const state: PeerState = { holds: new Set(), inFlight: 0, assigned: 0, bad: false, notBefore: 0, failures: 0, stats: this.stats.byPeer[i]! };
    this.stats.holdingsRequests += 1;
    try {
      const { status, body } = await this.get(holdingsUrl(base, manifest), signal, MAX_HOLDINGS_BYTES);
      if (status !== 200) return state; // 404: holds none of it at this block size
      const parsed = holdingsSchema.safeParse(JSON.parse(body.toString('utf8')));
      // A peer with another size or layout has other content under this ID: nothing it says is usable.
      if (!parsed.success || parsed.data.contentId !== manifest.contentId || parsed.data.size !== manifest.size || parsed.data.blockSize !== manifest.blockSize) {
        return state;
      }
      const held = expandRanges(parsed.data.ranges, blockCount(manifest.size, manifest.blockSize));
      if (!(held instanceof Set)) return state;
      state.holds = held;
    } catch {
      // Unreachable, timed out, not JSON: a peer that cannot answer this cannot serve blocks either.
      state.stats.failedRequests += 1;
      this.stats.failedRequests += 1;
    }
    return state;
  }

  private async fetchFromPeers(request: FetchBlocksRequest, peers: PeerState[], wanted: Set<number>, stop: AbortController): Promise<void> {
    const { signal } = request;
    const open = new Set<number>(); // blocks being fetched
    const excluded = new Map<number, Set<number>>(); // block -> peers that failed it
    const attempts = new Map<number, number>();
    const unavailable = new Set<number>();
    const running = new Set<Promise<void>>();
    let sinkError: { error: unknown } | null = null;
    const reasons: string[] = [];

    const settle = (block: number, peerIndex: number, outcome: BlockOutcome) => {
      const peer = peers[peerIndex]!;
      open.delete(block);
      peer.inFlight -= 1;
      if (outcome.kind === 'delivered') {
        peer.failures = 0;
        wanted.delete(block);
        return;
      }
      if (outcome.kind === 'not-held') {
        peer.holds.delete(block);
        return;
      }
      const exclude = () => {
        const set = excluded.get(block) ?? new Set<number>();
        set.add(peerIndex);
        excluded.set(block, set);
      };
      if (outcome.kind === 'corrupt') {
        // One forged or damaged block is enough: nothing else from this peer in this fetch.
        if (!peer.bad) this.stats.peersMarkedBad += 1;
        peer.bad = true;
        reasons.push(`${peer.stats.url} sent a corrupt block ${block}`);
      } else {
        peer.failures += 1;
        peer.notBefore = Date.now() + backoffDelayMs(peer.failures, this.retry, this.random());
        if (outcome.kind === 'failed') {
          exclude();
          reasons.push(`${peer.stats.url}: ${outcome.reason}`);
        }
      }
      const n = (attempts.get(block) ?? 0) + 1;
      attempts.set(block, n);
      if (n >= this.maxAttemptsPerBlock) unavailable.add(block);
    };

    for (;;) {
      if (signal.aborted) break;
      if (sinkError !== null) break;
      let waitUntil: number | null = null;
      const now = Date.now();
      // Hand out blocks in the order asked (the cache asks ascending) while there is room.
      for (const block of wanted) {
        if (running.size >= this.maxParallel) break;
        if (open.has(block) || unavailable.has(block)) continue;
        const choice = choosePeer(block, peers, excluded.get(block) ?? new Set(), this.maxParallelPerPeer, now);
        if (choice.kind === 'none') {
          unavailable.add(block);
          continue;
        }
        if (choice.kind === 'wait') {
          if (choice.until !== null) waitUntil = waitUntil === null ? choice.until : Math.min(waitUntil, choice.until);
          continue;
        }
        const peer = peers[choice.peer]!;
        peer.inFlight += 1;
        peer.assigned += 1;
        open.add(block);
        const task: Promise<void> = this.fetchBlock(request, this.peers[choice.peer]!, peer, block, stop.signal)
          .then(
            (outcome) => settle(block, choice.peer, outcome),
            (error: unknown) => {
              settle(block, choice.peer, { kind: 'failed', reason: 'sink failed' });
              if (sinkError === null) sinkError = { error };
              stop.abort();
            },
          )
          .finally(() => running.delete(task));
        running.add(task);
      }
      if (running.size === 0) {
        if (waitUntil === null) break; // nothing open, nothing to wait for: done or stuck
        try {
          await sleep(Math.max(waitUntil - Date.now(), 0), undefined, { signal });
        } catch {
          break; // aborted: reported below
        }
        continue;
      }
      const wake = waitUntil === null ? Promise.race(running) : Promise.race([...running, sleep(Math.max(waitUntil - Date.now(), 0), undefined, { signal: stop.signal }).catch(() => undefined)]);
      await wake;
    }
    // Let open requests settle before the caller sees a result: no sink call after we return.
    stop.abort();
    await Promise.allSettled([...running]);
    if (sinkError !== null) throw (sinkError as { error: unknown }).error;
    if (signal.aborted) throw new DownloadAbortedError();
    if (wanted.size > 0) {
      const detail = peers.length === 0 ? 'no peers given' : reasons.slice(-3).join('; ');
      throw new PeerBlocksUnavailableError([...wanted].sort((a, b) => a - b), detail);
    }
  }

  /** One block from one peer: fetched, verified, handed to the sink. Throws only a sink error. */
  private async fetchBlock(request: FetchBlocksRequest, base: URL, peer: PeerState, block: number, signal: AbortSignal): Promise<BlockOutcome> {
    const { manifest } = request;
    const { start, end } = blockRange(manifest, block);
    this.stats.blockRequests += 1;
    let response: { status: number; body: Buffer };
    try {
      response = await this.get(blockUrl(base, manifest, block), signal, end - start, (bytes) => {
        this.stats.bytesReceived += bytes;
        peer.stats.bytesReceived += bytes;
        request.onProgress?.(bytes);
      });
    } catch (error) {
      if (signal.aborted) return { kind: 'failed', reason: 'aborted' };
      // More bytes than a block holds is a lying peer, as a corrupt block is.
      if (error instanceof BodyTooLargeError) {
        this.stats.corruptBlocks += 1;
        peer.stats.corruptBlocks += 1;
        return { kind: 'corrupt' };
      }
      this.stats.failedRequests += 1;
      peer.stats.failedRequests += 1;
      return { kind: 'failed', reason: describe(error) };
    }
    if (response.status === 404) return { kind: 'not-held' };
    if (response.status === 503) {
      this.stats.busyAnswers += 1;
      return { kind: 'busy' };
    }
    if (response.status !== 200) {
      this.stats.failedRequests += 1;
      peer.stats.failedRequests += 1;
      return { kind: 'failed', reason: `answered ${response.status}` };
    }
    if (!verifyBlock(manifest, block, response.body)) {
      this.stats.corruptBlocks += 1;
      peer.stats.corruptBlocks += 1;
      return { kind: 'corrupt' };
    }
    if (signal.aborted) return { kind: 'failed', reason: 'aborted' };
    await request.sink(block, response.body);
    this.stats.blocksDelivered += 1;
    peer.stats.blocksDelivered += 1;
    return { kind: 'delivered' };
  }

  /** GET with a cap on the body: a peer that sends more than `maxBytes` is cut off (BodyTooLargeError). */
  private get(url: URL, signal: AbortSignal, maxBytes: number, onBytes?: (bytes: number) => void): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = http.get(url, { agent: this.agent, signal, headers: this.headers() }, (response: IncomingMessage) => {
        const status = response.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let length = 0;
        response.on('data', (chunk: Buffer) => {
          length += chunk.length;
          onBytes?.(chunk.length);
          if (length > maxBytes) {
            response.destroy();
            reject(new BodyTooLargeError(maxBytes));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => resolve({ status, body: Buffer.concat(chunks, length) }));
        response.on('error', reject);
        // A connection closed before the body was whole (no-op once 'end' resolved).
        response.on('close', () => reject(new Error('response cut off')));
      });
      req.on('error', reject);
      req.setTimeout(this.idleTimeoutMs, () => req.destroy(new Error(`no data for ${this.idleTimeoutMs} ms`)));
    });
  }
}

class BodyTooLargeError extends Error {
  constructor(maxBytes: number) {
    super(`body longer than ${maxBytes} bytes`);
  }
}

function holdingsUrl(base: URL, manifest: Manifest): URL {
  return new URL(`/v1/blocks/${manifest.contentId}?blockSize=${manifest.blockSize}`, base);
}

function blockUrl(base: URL, manifest: Manifest, block: number): URL {
  return new URL(`/v1/blocks/${manifest.contentId}/${block}?blockSize=${manifest.blockSize}`, base);
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new DownloadAbortedError();
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
