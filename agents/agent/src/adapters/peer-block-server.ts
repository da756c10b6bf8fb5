import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { MANIFEST_BLOCK_SIZE } from '@fleetcast/content';
import { PEER_PASS_HEADER } from '@fleetcast/contracts';
import { DEFAULT_PEER_PORT } from '@fleetcast/lan-protocol';
import { PeerErrorCode } from '../core/peer-errors';
import { RatePacer } from '../core/rate-pacer';
import { UploadSlots } from '../core/upload-slots';
import { ContentCache } from './content-cache';

/**
 * Peer repair, the serving side: a device hands the blocks it holds VERIFIED to other devices of its
 * subnet, so that a device missing blocks after a multicast session does not go to the origin.
 *
 *   GET /v1/blocks/<contentId>[?blockSize=N]          what it holds: { contentId, size, blockSize,
 *                                                      blockCount, complete, ranges: [{ first, count }],
 *                                                      truncated }
 *   GET /v1/blocks/<contentId>/<index>[?blockSize=N]  the block's bytes (application/octet-stream)
 *
 * Blocks are cut at the manifest block size every package uses (`blockSize`, the server's one
 * size); a fetcher states the block size of its manifest and any other is refused (400
 * PEER.BAD_BLOCK_SIZE), larger or smaller: a smaller one would cut blocks that do not align with
 * the manifest's hashes, and would make the block index, the holdings walk and the answer grow
 * as the package over the block size. Blocks are served whole: a `Range` header is refused (400
 * PEER.RANGE_NOT_SERVED) rather than ignored. So every request costs at most one block read into
 * memory (and only inside an upload slot), and a holdings answer at most MAX_HOLDINGS_RANGES runs
 * (`truncated` says there were more; a holdings answer is a hint a fetcher verifies anyway).
 * Bytes come only from the cache: a complete file (verified whole) or the verified blocks of an
 * open partial download (verified before they were written; those of an earlier run re-verified as read). Errors are JSON `{ code, message }`: 400 for a
 * malformed content ID, index, block size or a Range header, 404 for content or a block not held,
 * 503 when too many uploads wait.
 *
 * Who may ask: with `authorize` (the agent's default once it pins a control-plane key), only a
 * device that shows a peer pass the control plane signed for a device of this office, or of an
 * office below it (401 without a pass, 403 with a refused one), checked before anything is read.
 * Every fetcher verifies the blocks against a manifest it got from the control plane anyway; the
 * pass keeps hosts that are not enrolled devices of the office from reading content and holdings.
 * Uploads share one rate cap (`uploadRateKbps`) and a few slots, so serving never starves the
 * device's own work.
 */

/**
 * Defaults.
 * - The manifest block size (1 MiB), the only one the control plane makes.
 * - 4 uploads at once: each is at most one block (1 MiB) read into memory, so 4 MiB at most; on a
 *   gigabit LAN one block takes ~9 ms to send, so 4 keep the link busy while a 2-core device keeps
 *   its CPU and disk for its own work (hashing, installing).
 * - 32 waiting: a repair round of a subnet of 30 devices each asking a few blocks queues briefly
 *   instead of failing; beyond that, 503 tells the fetcher to ask another peer or come back.
 * - 15 s idle: a connection that takes no bytes for that long is closed, so a peer that stops
 *   reading cannot hold an upload slot for ever; longer than the fetcher's own 10 s patience.
 * - 256 connections: a fetcher keeps at most 2 to one peer (peer-source's maxParallelPerPeer), so
 *   a subnet of 128 devices all repairing from this one; a flood of sockets beyond it is refused
 *   at accept instead of holding file descriptors.
 * - 10 s for a request's headers: a LAN peer sends them in milliseconds; a connection that trickles
 *   them cannot stay open for Node's default minute.
 */
export const PEER_SERVER_DEFAULTS = {
  port: DEFAULT_PEER_PORT,
  blockSize: MANIFEST_BLOCK_SIZE,
  maxConcurrentUploads: 4,
  maxQueuedUploads: 32,
  idleTimeoutMs: 15_000,
  maxConnections: 256,
  headersTimeoutMs: 10_000,
};

/**
 * Most runs of blocks in a holdings answer: a 16 GiB package at 1 MiB blocks held every other block
 * is 8,192 runs, ~220 KB of JSON, inside the 1 MiB a fetcher reads (peer-source's MAX_HOLDINGS_BYTES).
 */
export const MAX_HOLDINGS_RANGES = 8192;

export interface PeerBlockServerOptions {
  cache: ContentCache;
  /** Address to bind: the device's LAN address. */
  host: string;
  /** 0 for any free port (tests). */
  port?: number;
  /** The block size served, the manifests' (tests use smaller ones); PEER_SERVER_DEFAULTS.blockSize unless given. */
  blockSize?: number;
  /** Runs of blocks in a holdings answer at most; MAX_HOLDINGS_RANGES unless given. */
  maxHoldingsRanges?: number;
  maxConcurrentUploads?: number;
  maxQueuedUploads?: number;
  idleTimeoutMs?: number;
  /**
   * Who may ask: given the request's peer pass header, null to serve it or why not (core/peer-pass-check.ts:
   * an enrolled device of this office or of an office below it). Absent: anyone on the LAN (the
   * subnet repair of tests and of agents started without a control-plane key).
   */
  authorize?: (passHeader: string | undefined) => string | null;
  /** Upload rate cap of all uploads together, kbit/s; 0 or absent: none (core/rate-pacer.ts). */
  uploadRateKbps?: number;
}

/** What the server did, for metrics, the control plane's per-source bytes, and tests. */
export interface PeerBlockServerStats {
  blocksServed: number;
  bytesServed: number;
  holdingsServed: number;
  /** Requests for content or blocks not held (404). */
  notHeld: number;
  /** Malformed requests: 400, 405 and unknown routes. */
  badRequests: number;
  /** Requests turned away because too many uploads were waiting (503). */
  busy: number;
  /** Requests without a pass, or with one refused (401, 403). */
  refused: number;
}

const CONTENT_ID = /^[0-9a-f]{64}$/;
/** Up to 10 digits: a block index of a 16 GiB package at 1 MiB is 5 digits; longer is garbage. */
const INDEX = /^(0|[1-9][0-9]{0,9})$/;
const BLOCK_SIZE = /^[1-9][0-9]{0,9}$/;

class HttpFailure {
  constructor(
    readonly status: number,
    readonly code: PeerErrorCode,
    readonly message: string,
  ) {}
}

export class PeerBlockServer {
  readonly stats: PeerBlockServerStats = { blocksServed: 0, bytesServed: 0, holdingsServed: 0, notHeld: 0, badRequests: 0, busy: 0, refused: 0 };
  private readonly slots: UploadSlots;
  private readonly blockSize: number;
  private readonly maxHoldingsRanges: number;
  private readonly authorize?: (passHeader: string | undefined) => string | null;
  private readonly pacer: RatePacer;

  private constructor(
    private readonly server: Server,
    private readonly cache: ContentCache,
    options: PeerBlockServerOptions,
  ) {
    this.slots = new UploadSlots(
      options.maxConcurrentUploads ?? PEER_SERVER_DEFAULTS.maxConcurrentUploads,
      options.maxQueuedUploads ?? PEER_SERVER_DEFAULTS.maxQueuedUploads,
    );
    this.blockSize = options.blockSize ?? PEER_SERVER_DEFAULTS.blockSize;
    this.maxHoldingsRanges = options.maxHoldingsRanges ?? MAX_HOLDINGS_RANGES;
    this.authorize = options.authorize;
    this.pacer = new RatePacer(options.uploadRateKbps ?? 0);
  }

  static async start(options: PeerBlockServerOptions): Promise<PeerBlockServer> {
    const server = createServer();
    // With no 'timeout' listener, Node destroys the idle socket, which frees its upload slot ('close').
    server.setTimeout(options.idleTimeoutMs ?? PEER_SERVER_DEFAULTS.idleTimeoutMs);
    server.maxConnections = PEER_SERVER_DEFAULTS.maxConnections;
    server.headersTimeout = PEER_SERVER_DEFAULTS.headersTimeoutMs;
    // A GET has no body: the whole request is its headers.
    server.requestTimeout = PEER_SERVER_DEFAULTS.headersTimeoutMs;
    const peer = new PeerBlockServer(server, options.cache, options);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void peer.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? PEER_SERVER_DEFAULTS.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return peer;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The base URL peers use, e.g. http://192.168.1.20:47471 (what PEER_HAVE's address and port make). */
  get url(): string {
    const { address, family, port } = this.server.address() as AddressInfo;
    return family === 'IPv6' ? `http://[${address}]:${port}` : `http://${address}:${port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The block size asked for: absent, the server's; anything but the server's is refused, saying which one it serves. */
  private parseBlockSize(text: string | null): number {
    if (text === null) return this.blockSize;
    if (!BLOCK_SIZE.test(text)) throw new HttpFailure(400, PeerErrorCode.BadBlockSize, `block size "${text.slice(0, 20)}" is not a positive integer`);
    const asked = Number(text);
    if (asked !== this.blockSize) {
      const why = asked > this.blockSize ? 'larger than' : 'smaller than';
      throw new HttpFailure(
        400,
        PeerErrorCode.BadBlockSize,
        `block size ${asked} is ${why} the manifest block size ${this.blockSize}, the only one this peer serves (blocks of another size do not match the manifest's hashes)`,
      );
    }
    return asked;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpFailure(405, PeerErrorCode.MethodNotAllowed, 'GET only');
      if (this.authorize !== undefined) {
        const header = req.headers[PEER_PASS_HEADER];
        const pass = Array.isArray(header) ? header[0] : header;
        const refusal = this.authorize(pass);
        if (refusal !== null) {
          throw pass === undefined
            ? new HttpFailure(401, PeerErrorCode.PassMissing, `a peer pass is required (${PEER_PASS_HEADER}): this device serves enrolled devices of its office only`)
            : new HttpFailure(403, PeerErrorCode.PassRefused, `peer pass refused: ${refusal}`);
        }
      }
      const url = new URL(req.url ?? '/', 'http://peer');
      const parts = url.pathname.split('/');
      // ['', 'v1', 'blocks', contentId, index?]
      if (parts.length < 4 || parts.length > 5 || parts[0] !== '' || parts[1] !== 'v1' || parts[2] !== 'blocks') {
        throw new HttpFailure(404, PeerErrorCode.NoRoute, `no route ${url.pathname.slice(0, 100)}`);
      }
      const contentId = parts[3]!;
      if (!CONTENT_ID.test(contentId)) throw new HttpFailure(400, PeerErrorCode.BadContentId, 'a content ID is 64 lowercase hex characters');
      const blockSize = this.parseBlockSize(url.searchParams.get('blockSize'));
      if (req.headers.range !== undefined) {
        throw new HttpFailure(400, PeerErrorCode.RangeNotServed, `blocks are served whole: ask for /v1/blocks/<contentId>/<index> without a Range header (got "${req.headers.range.slice(0, 40)}")`);
      }
      if (parts.length === 4) return await this.sendHoldings(req, res, contentId, blockSize);
      const indexText = parts[4]!;
      if (!INDEX.test(indexText)) throw new HttpFailure(400, PeerErrorCode.BadIndex, `"${indexText.slice(0, 20)}" is not a block index`);
      await this.sendBlock(req, res, contentId, Number(indexText), blockSize);
    } catch (error) {
      const failure = error instanceof HttpFailure ? error : new HttpFailure(500, PeerErrorCode.Internal, error instanceof Error ? error.message : String(error));
      if (failure.code === PeerErrorCode.NotHeld) this.stats.notHeld += 1;
      else if (failure.code === PeerErrorCode.Busy) this.stats.busy += 1;
      else if (failure.code === PeerErrorCode.PassMissing || failure.code === PeerErrorCode.PassRefused) this.stats.refused += 1;
      else if (failure.status < 500) this.stats.badRequests += 1;
      sendJson(res, failure.status, { code: failure.code, message: failure.message });
    }
  }

  private async sendHoldings(req: IncomingMessage, res: ServerResponse, contentId: string, blockSize: number): Promise<void> {
    const held = await this.cache.heldRanges(contentId, blockSize, this.maxHoldingsRanges);
    if (held === null) throw new HttpFailure(404, PeerErrorCode.NotHeld, `${contentId} is not held at block size ${blockSize}`);
    this.stats.holdingsServed += 1;
    const body = { contentId, size: held.size, blockSize, blockCount: held.blockCount, complete: held.complete, ranges: held.ranges, truncated: held.truncated };
    sendJson(res, 200, body, req.method === 'HEAD');
  }

  private async sendBlock(req: IncomingMessage, res: ServerResponse, contentId: string, index: number, blockSize: number): Promise<void> {
    // Only the block count is needed here: no runs listed.
    const held = await this.cache.heldRanges(contentId, blockSize, 0);
    if (held === null) throw new HttpFailure(404, PeerErrorCode.NotHeld, `${contentId} is not held at block size ${blockSize}`);
    if (index >= held.blockCount) throw new HttpFailure(400, PeerErrorCode.BadIndex, `block ${index} is past the last block (${held.blockCount - 1})`);
    const release = await this.slots.acquire();
    if (release === null) throw new HttpFailure(503, PeerErrorCode.Busy, 'too many uploads waiting; ask another peer or retry');
    // A fetcher that gave up while waiting frees its place at once.
    res.once('close', release);
    try {
      const data = await this.cache.readVerifiedBlock(contentId, index, blockSize);
      if (data === null) throw new HttpFailure(404, PeerErrorCode.NotHeld, `block ${index} of ${contentId} is not held verified`);
      if (req.method === 'HEAD') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length }).end();
        return;
      }
      // The device's own work comes first: all uploads together stay under the cap.
      const delay = this.pacer.reserve(data.length, Date.now());
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length, etag: `"${contentId}"` });
      await new Promise<void>((resolve) => {
        res.end(data, () => {
          this.stats.blocksServed += 1;
          this.stats.bytesServed += data.length;
          resolve();
        });
        // A connection lost mid-body ends the upload too (the end callback never runs then).
        res.once('close', resolve);
      });
    } finally {
      release();
    }
  }
}


function sendJson(res: ServerResponse, status: number, body: unknown, headOnly = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(headOnly ? undefined : text);
}
