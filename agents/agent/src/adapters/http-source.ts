import http, { IncomingMessage } from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { Manifest, blockCount, blockRange, verifyBlock } from '@fleetcast/content';
import { AgentErrorCode } from '../core/agent-errors';
import { BackoffPolicy, backoffDelayMs } from '../core/backoff';
import { BlockRun, blockRuns } from '../core/block-runs';
import { RatePacer } from '../core/rate-pacer';
import { DownloadAbortedError, DownloadSource, DownloadSourceError, FetchBlocksRequest } from '../core/download-source';

/**
 * Request headers the origin counts bytes by (per device and per subnet, the WAN figure of every
 * benchmark). They belong in the contracts next to the origin's reading of them; the agent is
 * their only sender so far.
 */
export const DEVICE_HEADER = 'x-fleetcast-device';
export const SUBNET_HEADER = 'x-fleetcast-subnet';

export interface HttpSourceOptions {
  /** The content's URL at the origin (the task's `downloadUrl`). */
  url: string;
  deviceId: string;
  /** The device's subnet in CIDR form, or null when it has none worth naming. */
  subnet: string | null;
  /**
   * The download token the origin asks for, from the control plane (null: none is issued, as for an
   * origin that serves anyone). Asked once and kept; asked again with `refresh` after a 401.
   */
  downloadToken?: (refresh: boolean) => Promise<string | null>;
  /** Failed fetches of one block (corrupt, cut off, connection lost, server error) before giving up. */
  maxAttemptsPerBlock?: number;
  retry?: BackoffPolicy;
  /** A response that sends nothing for this long is dropped and retried. */
  idleTimeoutMs?: number;
  /** Jitter source in [0, 1); replaceable so that a test can make delays exact. */
  random?: () => number;
  /**
   * The WAN rate cap of the device's office link in kbit/s (the topology's `rateCapKbps`), 0 or
   * absent for none: the body is read no faster, so TCP slows the origin down to it.
   */
  rateKbps?: number;
}

/**
 * Defaults.
 * - 5 attempts per block: a flaky link or a middlebox that mangles one response gets four more
 *   chances, a source that corrupts every time is given up on within seconds, and the task's own
 *   retry (minutes apart) takes over from there.
 * - 500 ms doubling to 8 s: retries within one fetch are for transient faults; the sum of all four
 *   waits stays under 10 s.
 * - 30 s idle: longer than any pause of a healthy origin under load, shorter than a user's patience
 *   with a stuck progress bar.
 */
export const HTTP_SOURCE_DEFAULTS = {
  maxAttemptsPerBlock: 5,
  retry: { baseDelayMs: 500, maxDelayMs: 8000 } satisfies BackoffPolicy,
  idleTimeoutMs: 30_000,
};

/** What happened on the wire, for logs, metrics and tests. */
export interface HttpSourceStats {
  requests: number;
  /** Body bytes received, good or bad. */
  bytesReceived: number;
  /** Blocks delivered to the sink. */
  blocksDelivered: number;
  /** Responses that ended before the bytes they promised. */
  truncatedResponses: number;
  /** Blocks that arrived whole but did not match the manifest, and were discarded. */
  corruptBlocks: number;
  /** Requests that failed before a usable body: connection errors, timeouts, 5xx. */
  failedRequests: number;
}

type Failure = { code: string; message: string; retryable: boolean };

/** How one request ended. */
interface RunOutcome {
  /** Blocks that failed in this request and are charged an attempt. */
  charged: number[];
  failure: Failure | null;
}

/**
 * Downloads blocks from the origin with HTTP Range requests: one request for each run of
 * consecutive wanted blocks, the body cut into blocks that are verified against the manifest before
 * they reach the sink. A corrupt block is discarded and the rest of the response still used; a cut
 * response keeps what arrived whole; either way the missing blocks are asked for again after a
 * back-off, at most `maxAttemptsPerBlock` times each. Bad bytes never reach the sink.
 */
export class HttpSource implements DownloadSource {
  readonly kind = 'origin' as const;
  readonly stats: HttpSourceStats = { requests: 0, bytesReceived: 0, blocksDelivered: 0, truncatedResponses: 0, corruptBlocks: 0, failedRequests: 0 };
  private readonly url: URL;
  private readonly maxAttemptsPerBlock: number;
  private readonly retry: BackoffPolicy;
  private readonly idleTimeoutMs: number;
  private readonly random: () => number;
  private readonly pacer: RatePacer;
  /** The token in use; cleared by a 401, so the next request asks for a new one. */
  private token?: Promise<string | null>;
  private refreshToken = false;

  constructor(private readonly options: HttpSourceOptions) {
    this.url = new URL(options.url);
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:') throw new RangeError(`origin URL must be http or https, got ${this.url.protocol}`);
    this.maxAttemptsPerBlock = options.maxAttemptsPerBlock ?? HTTP_SOURCE_DEFAULTS.maxAttemptsPerBlock;
    this.retry = options.retry ?? HTTP_SOURCE_DEFAULTS.retry;
    this.idleTimeoutMs = options.idleTimeoutMs ?? HTTP_SOURCE_DEFAULTS.idleTimeoutMs;
    this.random = options.random ?? Math.random;
    this.pacer = new RatePacer(options.rateKbps ?? 0);
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
    const attempts = new Map<number, number>();

    while (wanted.size > 0) {
      throwIfAborted(signal);
      const run = blockRuns(wanted)[0]!;
      const outcome = await this.fetchRun(request, run, wanted);
      if (outcome.failure === null) continue;
      if (!outcome.failure.retryable) throw new DownloadSourceError(outcome.failure.code, outcome.failure.message, false);
      let worst = 0;
      for (const index of outcome.charged) {
        const n = (attempts.get(index) ?? 0) + 1;
        attempts.set(index, n);
        worst = Math.max(worst, n);
        if (n >= this.maxAttemptsPerBlock) {
          throw new DownloadSourceError(
            outcome.failure.code,
            `block ${index} failed ${n} times from ${this.url.origin}; last: ${outcome.failure.message}`,
            // The origin may recover (a restart, a fixed disk): the task's slower retry may try again.
            true,
          );
        }
      }
      try {
        await sleep(backoffDelayMs(worst, this.retry, this.random()), undefined, { signal });
      } catch {
        throw new DownloadAbortedError();
      }
    }
  }

  /** One Range request for one run; delivers what arrives whole and valid, reports the rest. */
  private async fetchRun(request: FetchBlocksRequest, run: BlockRun, wanted: Set<number>): Promise<RunOutcome> {
    const { manifest, signal } = request;
    const start = blockRange(manifest, run.first).start;
    const end = blockRange(manifest, run.last).end; // exclusive
    this.stats.requests += 1;

    let response: IncomingMessage;
    try {
      response = await this.get(start, end, signal);
    } catch (error) {
      if (signal.aborted) throw new DownloadAbortedError();
      this.stats.failedRequests += 1;
      const unreachable = UNREACHABLE_CODES.has((error as NodeJS.ErrnoException).code ?? '');
      return {
        charged: [run.first],
        failure: unreachable
          ? { code: AgentErrorCode.DownloadOriginUnreachable, message: `the origin ${this.options.url} cannot be reached from this device (${describe(error)})`, retryable: true }
          : { code: AgentErrorCode.DownloadNetwork, message: describe(error), retryable: true },
      };
    }

    try {
      const head = this.checkHead(response, manifest, start, end);
      if ('failure' in head) {
        if (head.failure.retryable) this.stats.failedRequests += 1;
        return { charged: [run.first], failure: head.failure };
      }
      return await this.readBody(request, response, head.bodyStart, head.bodyEnd, start, end, wanted);
    } finally {
      response.destroy();
    }
  }

  private async get(start: number, end: number, signal: AbortSignal): Promise<IncomingMessage> {
    const headers: Record<string, string> = { range: `bytes=${start}-${end - 1}`, [DEVICE_HEADER]: this.options.deviceId };
    if (this.options.subnet !== null) headers[SUBNET_HEADER] = this.options.subnet;
    const provider = this.options.downloadToken;
    if (provider) {
      const refresh = this.refreshToken;
      this.refreshToken = false;
      this.token = refresh || !this.token ? provider(refresh) : this.token;
      // A failed ask is not kept: the next attempt asks again.
      const token = await this.token.catch((error: unknown) => {
        this.token = undefined;
        throw error;
      });
      if (token !== null) headers.authorization = `Bearer ${token}`;
    }
    const client = this.url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = client.get(this.url, { headers, signal }, resolve);
      req.on('error', reject);
      // A stalled connection (socket silent for idleTimeoutMs, headers or body) is dropped.
      req.setTimeout(this.idleTimeoutMs, () => req.destroy(new Error(`no data for ${this.idleTimeoutMs} ms`)));
    });
  }

  /** Checks status, ETag and Content-Range; returns where the body starts and ends in the file. */
  private checkHead(
    response: IncomingMessage,
    manifest: Manifest,
    start: number,
    end: number,
  ): { bodyStart: number; bodyEnd: number } | { failure: Failure } {
    const status = response.statusCode ?? 0;
    const etag = response.headers.etag;
    if ((status === 200 || status === 206) && etag !== undefined && etag !== `"${manifest.contentId}"`) {
      return {
        failure: { code: AgentErrorCode.DownloadEtagMismatch, message: `origin serves ETag ${etag.slice(0, 80)} at ${this.url.pathname}, not "${manifest.contentId}"`, retryable: false },
      };
    }
    if (status === 206) {
      const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers['content-range'] ?? '');
      if (!match) return { failure: { code: AgentErrorCode.DownloadHttpStatus, message: '206 without a usable Content-Range', retryable: true } };
      const [first, last, size] = [Number(match[1]), Number(match[2]), match[3]];
      if (size !== '*' && Number(size) !== manifest.size) {
        return { failure: { code: AgentErrorCode.DownloadSizeMismatch, message: `origin has ${size} bytes, the manifest says ${manifest.size}`, retryable: false } };
      }
      if (first !== start || last < first) {
        return { failure: { code: AgentErrorCode.DownloadHttpStatus, message: `asked for bytes ${start}-${end - 1}, got ${first}-${last}`, retryable: true } };
      }
      // A server may send less than asked (RFC 9110 14.4): take what it sends, ask for the rest later.
      // More than asked is read only up to what was asked.
      return { bodyStart: first, bodyEnd: Math.min(last + 1, end) };
    }
    if (status === 200) {
      // The server ignored Range: the body is the whole file; skip to `start`.
      const length = response.headers['content-length'];
      if (length !== undefined && Number(length) !== manifest.size) {
        return { failure: { code: AgentErrorCode.DownloadSizeMismatch, message: `origin has ${length} bytes, the manifest says ${manifest.size}`, retryable: false } };
      }
      return { bodyStart: 0, bodyEnd: manifest.size };
    }
    if (status === 416) {
      return { failure: { code: AgentErrorCode.DownloadSizeMismatch, message: `origin cannot serve bytes ${start}-${end - 1} (416)`, retryable: false } };
    }
    if (status === 401) {
      // The token ran out (they live an hour) or was refused: ask the control plane for a new one and try again.
      this.refreshToken = true;
      return { failure: { code: AgentErrorCode.DownloadUnauthorized, message: 'origin refused the download token (401)', retryable: true } };
    }
    if (status === 404 || status === 410) {
      return { failure: { code: AgentErrorCode.DownloadNotFound, message: `origin has no content at ${this.url.pathname} (${status})`, retryable: false } };
    }
    // Overload, gateway trouble and request timeouts pass; any other answer will not change on its own.
    const retryable = status >= 500 || status === 408 || status === 429;
    return { failure: { code: AgentErrorCode.DownloadHttpStatus, message: `origin answered ${status}`, retryable } };
  }

  private async readBody(
    request: FetchBlocksRequest,
    response: IncomingMessage,
    bodyStart: number,
    bodyEnd: number,
    start: number,
    end: number,
    wanted: Set<number>,
  ): Promise<RunOutcome> {
    const { manifest, sink, signal, onProgress } = request;
    const stop = Math.min(end, bodyEnd);
    let position = bodyStart; // file offset of the next body byte
    let index = Math.floor(start / manifest.blockSize);
    let block = this.allocBlock(manifest, index);
    let filled = 0;
    const corrupt: number[] = [];
    let delivered = 0;

    const finishBlock = async (): Promise<void> => {
      if (wanted.has(index)) {
        if (verifyBlock(manifest, index, block)) {
          try {
            await sink(index, block);
          } catch (error) {
            throw new SinkError(error);
          }
          wanted.delete(index);
          delivered += 1;
          this.stats.blocksDelivered += 1;
        } else {
          this.stats.corruptBlocks += 1;
          corrupt.push(index);
        }
      }
      index += 1;
      filled = 0;
      block = position < stop ? this.allocBlock(manifest, index) : Buffer.alloc(0);
    };

    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        this.stats.bytesReceived += chunk.length;
        onProgress?.(chunk.length);
        let offset = 0;
        if (position < start) {
          // Only after a 200: bytes before the first wanted block are skipped.
          const skip = Math.min(start - position, chunk.length);
          position += skip;
          offset = skip;
        }
        while (offset < chunk.length && position < stop) {
          const take = Math.min(block.length - filled, chunk.length - offset, stop - position);
          chunk.copy(block, filled, offset, offset + take);
          filled += take;
          offset += take;
          position += take;
          if (filled === block.length) await finishBlock();
        }
        // Under a WAN rate cap, a chunk is taken only at the cap: unread bytes fill TCP's window and slow the origin.
        const wait = this.pacer.reserveTaken(chunk.length, Date.now());
        if (wait > 0) await sleep(wait, undefined, { signal });
        if (position >= stop) break;
      }
    } catch (error) {
      if (signal.aborted) throw new DownloadAbortedError();
      // A refusal by the sink (disk full, a cache error) is not the network's fault: passed on as is.
      if (isSinkError(error)) throw error.cause;
      return this.cutShort(index, corrupt, `response broke off at byte ${position} of ${start}-${end - 1}: ${describe(error)}`);
    }
    if (signal.aborted) throw new DownloadAbortedError();
    if (position < stop) return this.cutShort(index, corrupt, `response ended at byte ${position} of ${start}-${end - 1}`);
    if (corrupt.length > 0) {
      return {
        charged: corrupt,
        failure: { code: AgentErrorCode.DownloadCorrupt, message: `block(s) ${corrupt.join(', ')} did not match the manifest`, retryable: true },
      };
    }
    if (delivered === 0) {
      // The server answered less than one block: count it so that a server doing so forever ends.
      return { charged: [index], failure: { code: AgentErrorCode.DownloadTruncated, message: `response held no whole block of ${start}-${end - 1}`, retryable: true } };
    }
    return { charged: [], failure: null };
  }

  private cutShort(index: number, corrupt: number[], message: string): RunOutcome {
    this.stats.truncatedResponses += 1;
    // The block being filled when the bytes stopped is charged, with any corrupt one before it.
    return { charged: [...corrupt, index], failure: { code: AgentErrorCode.DownloadTruncated, message, retryable: true } };
  }

  private allocBlock(manifest: Manifest, index: number): Buffer {
    const { start, end } = blockRange(manifest, index);
    // A fresh buffer per block: the sink may keep it (a later peer layer serves from memory).
    return Buffer.allocUnsafe(Math.max(end - start, 0));
  }
}

/** Wraps an error thrown by the sink so that the read loop can tell it from a network error. */
class SinkError extends Error {
  constructor(override readonly cause: unknown) {
    super('sink failed');
  }
}

function isSinkError(error: unknown): error is SinkError {
  return error instanceof SinkError;
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new DownloadAbortedError();
}

/** Connection errors that mean "no way to the origin", as opposed to a transfer that broke off (a reset). */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
