import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request as httpRequest, IncomingMessage, OutgoingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { INestApplication } from '@nestjs/common';
import { createLogger } from '@fleetcast/telemetry';
import { startOriginApp } from '../src/app.bootstrap';
import { loadOriginConfig } from '../src/config/origin.config';

/** An origin on a real port with its own store in a fresh temp directory. */
export interface RunningOrigin {
  app: INestApplication;
  baseUrl: string;
  storeDir: string;
  close(): Promise<void>;
}

export async function startOrigin(env: Record<string, string> = {}): Promise<RunningOrigin> {
  const storeDir = await mkdtemp(join(tmpdir(), 'origin-int-'));
  const config = loadOriginConfig({ ORIGIN_STORE_DIR: storeDir, HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', ...env });
  const app = await startOriginApp(config, createLogger('origin', 'error'));
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  return {
    app,
    baseUrl: `http://127.0.0.1:${port}`,
    storeDir,
    async close() {
      await app.close();
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}

/** Every file under `dir`, as paths relative to it (directories left out). */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

/** Polls `check` until it returns true, failing with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A stream of `size` pseudo-random bytes made on the fly, chunk by chunk, never held whole: each
 * 64 KiB chunk is a slice of one random MiB stamped with its index, so no two blocks are alike.
 * `sha256()` gives the hash of what was produced once it has ended.
 */
export class GeneratedStream extends Readable {
  // 64 KiB: the chunk size of Node's own file and socket streams, so the origin sees the usual sizes.
  private static readonly CHUNK = 64 * 1024;
  private readonly pattern = randomBytes(1024 * 1024);
  private readonly hash = createHash('sha256');
  private produced = 0;
  private index = 0;

  constructor(private readonly size: number) {
    super();
  }

  override _read(): void {
    if (this.produced >= this.size) {
      this.push(null);
      return;
    }
    const length = Math.min(GeneratedStream.CHUNK, this.size - this.produced);
    const offset = (this.index * GeneratedStream.CHUNK) % this.pattern.length;
    const chunk = Buffer.from(this.pattern.subarray(offset, offset + length));
    if (length >= 4) chunk.writeUInt32BE(this.index, 0);
    this.index += 1;
    this.produced += length;
    this.hash.update(chunk);
    this.push(chunk);
  }

  sha256(): string {
    return this.hash.copy().digest('hex');
  }
}

export interface HttpResult {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** Sends a request whose body is a buffer or a stream (a stream with no length goes chunked). */
export function send(url: string, method: string, body: Buffer | Readable | null, headers: OutgoingHttpHeaders = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body === null) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

export function json(result: HttpResult): Record<string, unknown> {
  return JSON.parse(result.body.toString('utf8')) as Record<string, unknown>;
}

/**
 * The value of the first Prometheus sample named `name` whose labels include `labels`, or undefined
 * when there is none. Other labels (such as the `service` label the registry adds to every sample)
 * are ignored.
 */
export function sample(metricsText: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of metricsText.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = new Map([...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (Object.entries(labels).every(([key, value]) => present.get(key) === value)) return Number(match[3]);
  }
  return undefined;
}
