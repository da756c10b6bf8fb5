import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Manifest, verifyBlock } from '@fleetcast/content';
import { AgentErrorCode } from '../src/core/agent-errors';
import { DownloadAbortedError, DownloadSource, DownloadSourceError, FetchBlocksRequest } from '../src/core/download-source';
import { downloadIntoCache } from '../src/adapters/cache-download';
import { ContentCache } from '../src/adapters/content-cache';
import { DEVICE_HEADER, HttpSource, HttpSourceOptions, SUBNET_HEADER } from '../src/adapters/http-source';
import { ContentFixture, TEST_BLOCK_SIZE, makeContent, tempDir } from './support/content-fixture';
import { Behaviour, TestOrigin, startTestOrigin } from './support/test-origin';
import { waitFor } from './support/wait-for';

const BS = TEST_BLOCK_SIZE;
// 10 whole blocks and a short eleventh.
const content: ContentFixture = makeContent(10 * BS + 1234);
const { data, manifest } = content;
const BLOCKS = 11;
const etag = `"${manifest.contentId}"`;
const cleanups: Array<() => Promise<void>> = [];

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function origin(behave?: (n: number) => Behaviour, etagHeader: string | null = etag): Promise<TestOrigin> {
  const server = await startTestOrigin({ data, etag: etagHeader, ...(behave ? { behave } : {}) });
  cleanups.push(server.close);
  return server;
}

async function cacheDir(): Promise<string> {
  const { dir, remove } = await tempDir('cache');
  cleanups.push(remove);
  return dir;
}

/** Retries in a test need no real back-off: a few ms keeps the logic and the run fast. */
function source(url: string, extra: Partial<HttpSourceOptions> = {}): HttpSource {
  return new HttpSource({ url, deviceId: 'device-7', subnet: '127.0.0.0/8', retry: { baseDelayMs: 5, maxDelayMs: 20 }, ...extra });
}

/**
 * Passes every call through to the real source and checks each block handed to the sink against
 * the manifest: the proof that no bad byte is ever offered for writing.
 */
function watched(inner: DownloadSource): DownloadSource & { written: number[] } {
  const written: number[] = [];
  return {
    kind: inner.kind,
    written,
    fetchBlocks: (request: FetchBlocksRequest) =>
      inner.fetchBlocks({
        ...request,
        sink: async (index, block) => {
          assert.ok(verifyBlock(request.manifest, index, block), `block ${index} reached the sink unverified`);
          written.push(index);
          await request.sink(index, block);
        },
      }),
  };
}

async function assertCachedCorrectly(cache: ContentCache, m: Manifest = manifest): Promise<void> {
  const file = await readFile(cache.path(m.contentId));
  assert.equal(createHash('sha256').update(file).digest('hex'), m.contentId);
  assert.ok(file.equals(data));
  assert.deepEqual(await cache.list(), [m.contentId]);
  assert.deepEqual(await readdir(join(cache.cacheDir, 'partial')), [], 'no partial files left');
}

const rangeFrom = (block: number) => `bytes=${block * BS}-${data.length - 1}`;

before(() => {
  assert.equal(Math.ceil(data.length / BS), BLOCKS);
});

test('full download: one Range request with device and subnet headers, verified into content/', async () => {
  const server = await origin();
  const cache = await ContentCache.open(await cacheDir());
  const http = source(server.url);
  let progress = 0;
  const result = await downloadIntoCache({
    cache,
    manifest,
    sources: [http],
    signal: new AbortController().signal,
    onProgress: (kind, bytes) => {
      assert.equal(kind, 'origin');
      progress += bytes;
    },
  });
  assert.equal(result.path, cache.path(manifest.contentId));
  assert.equal(result.alreadyCached, false);
  assert.equal(result.blocksFetched, BLOCKS);
  await assertCachedCorrectly(cache);
  assert.equal(server.requests.length, 1);
  assert.equal(server.requests[0]!.range, rangeFrom(0));
  assert.equal(server.requests[0]!.headers[DEVICE_HEADER], 'device-7');
  assert.equal(server.requests[0]!.headers[SUBNET_HEADER], '127.0.0.0/8');
  assert.equal(server.bytesServed(), data.length);
  assert.equal(progress, data.length);
  assert.deepEqual(http.stats, { requests: 1, bytesReceived: data.length, blocksDelivered: BLOCKS, truncatedResponses: 0, corruptBlocks: 0, failedRequests: 0 });

  const again = await downloadIntoCache({ cache, manifest, sources: [http], signal: new AbortController().signal });
  assert.equal(again.alreadyCached, true);
  assert.equal(server.requests.length, 1, 'content already cached: no request');
});

test('no subnet: the subnet header is left out rather than sent empty', async () => {
  const server = await origin();
  const cache = await ContentCache.open(await cacheDir());
  await downloadIntoCache({ cache, manifest, sources: [source(server.url, { subnet: null })], signal: new AbortController().signal });
  assert.equal(server.requests[0]!.headers[SUBNET_HEADER], undefined);
});

/**
 * Starts a download that the origin stalls after `stallAfter` bytes, waits until `verifiedBlocks`
 * are on disk and every stalled byte arrived, aborts it (the agent stopping), then "restarts":
 * a new cache object over the same folder and a new source. Returns the second run's origin requests.
 */
async function abortAndResume(stallAfter: number, verifiedBlocks: number) {
  const server = await origin((n) => (n === 0 ? { kind: 'stall', afterBytes: stallAfter } : { kind: 'ok' }));
  const dir = await cacheDir();
  const first = await ContentCache.open(dir);
  const controller = new AbortController();
  let received = 0;
  const running = downloadIntoCache({
    cache: first,
    manifest,
    sources: [source(server.url)],
    signal: controller.signal,
    onProgress: (_kind, bytes) => (received += bytes),
  });
  const partial = await first.openPartial(manifest); // the same object the download writes through
  await waitFor(() => partial.missingBlocks().length === BLOCKS - verifiedBlocks && received === stallAfter, `${verifiedBlocks} verified blocks`);
  controller.abort();
  await assert.rejects(running, (e: unknown) => e instanceof DownloadAbortedError && e.code === AgentErrorCode.DownloadAborted);
  assert.equal(server.requests[0]!.bodyBytes, stallAfter);

  const restarted = await ContentCache.open(dir);
  const http = source(server.url);
  const result = await downloadIntoCache({ cache: restarted, manifest, sources: [http], signal: new AbortController().signal });
  await assertCachedCorrectly(restarted);
  return { server, result, http };
}

test('resume after an abort at a block boundary: only the missing blocks are asked for and served', async () => {
  const { server, result } = await abortAndResume(4 * BS, 4);
  assert.equal(server.requests.length, 2);
  assert.equal(server.requests[1]!.range, rangeFrom(4));
  assert.equal(server.requests[1]!.bodyBytes, data.length - 4 * BS, 'verified blocks are not downloaded again');
  assert.equal(result.blocksFetched, BLOCKS - 4);
});

test('resume after an abort mid-block: the half block is fetched again, the whole ones are not', async () => {
  const { server, result } = await abortAndResume(6 * BS + BS / 2, 6);
  assert.equal(server.requests.length, 2);
  assert.equal(server.requests[1]!.range, rangeFrom(6));
  assert.equal(server.requests[1]!.bodyBytes, data.length - 6 * BS);
  assert.equal(result.blocksFetched, BLOCKS - 6);
});

test('a response cut off once: counted as truncated, the rest fetched from the cut, file verified', async () => {
  // What the client had verified when it asked again (Node drops bytes still buffered in a response
  // that breaks off, so this is up to the cut, not always exactly at it).
  let verifiedAtRetry = -1;
  const server = await origin((n) => {
    if (n === 1) verifiedAtRetry = seen.written.length;
    return n === 0 ? { kind: 'truncate', afterBytes: 5 * BS + 100 } : { kind: 'ok' };
  });
  const cache = await ContentCache.open(await cacheDir());
  const http = source(server.url);
  const seen = watched(http);
  await downloadIntoCache({ cache, manifest, sources: [seen], signal: new AbortController().signal });
  await assertCachedCorrectly(cache);
  assert.equal(http.stats.truncatedResponses, 1);
  assert.equal(http.stats.corruptBlocks, 0);
  assert.equal(server.requests.length, 2);
  assert.equal(server.requests[0]!.bodyBytes, 5 * BS + 100);
  assert.ok(verifiedAtRetry >= 0 && verifiedAtRetry <= 5);
  assert.equal(server.requests[1]!.range, rangeFrom(verifiedAtRetry), 'the second request starts at the first block not verified');
  assert.equal(server.requests[1]!.bodyBytes, data.length - verifiedAtRetry * BS);
  assert.deepEqual([...seen.written].sort((a, b) => a - b), Array.from({ length: BLOCKS }, (_, i) => i), 'each block written once');
});

test('a flipped byte in one block: that block is rejected and fetched again, the others are kept', async () => {
  const badOffset = 2 * BS + 77;
  const server = await origin((n) => (n === 0 ? { kind: 'corrupt', fileOffset: badOffset } : { kind: 'ok' }));
  const cache = await ContentCache.open(await cacheDir());
  const http = source(server.url);
  const seen = watched(http);
  await downloadIntoCache({ cache, manifest, sources: [seen], signal: new AbortController().signal });
  await assertCachedCorrectly(cache);
  assert.equal(http.stats.corruptBlocks, 1);
  assert.equal(http.stats.truncatedResponses, 0);
  assert.equal(server.requests.length, 2);
  assert.equal(server.requests[1]!.range, `bytes=${2 * BS}-${3 * BS - 1}`, 'only the bad block is asked for again');
  assert.equal(seen.written.filter((i) => i === 2).length, 1, 'block 2 written once, the good copy');
  assert.equal(seen.written.length, BLOCKS);
});

test('an origin that always corrupts a block: clear failure after bounded retries, nothing in content/', async () => {
  const server = await origin(() => ({ kind: 'corrupt', fileOffset: 3 * BS + 5 }));
  const dir = await cacheDir();
  const cache = await ContentCache.open(dir);
  const http = source(server.url, { maxAttemptsPerBlock: 3 });
  await assert.rejects(
    downloadIntoCache({ cache, manifest, sources: [watched(http)], signal: new AbortController().signal }),
    (e: unknown) =>
      e instanceof DownloadSourceError && e.code === AgentErrorCode.DownloadCorrupt && e.retryable && /block 3 failed 3 times/.test(e.message),
  );
  assert.equal(server.requests.length, 3, 'one full request, then block 3 twice more');
  assert.equal(http.stats.corruptBlocks, 3);
  assert.deepEqual(await cache.list(), []);
  assert.deepEqual(await readdir(join(dir, 'content')), []);
  const partial = await (await ContentCache.open(dir)).openPartial(manifest);
  assert.deepEqual(partial.missingBlocks(), [3], 'the good blocks are kept for a later attempt');
});

test('an origin that always cuts the response at the same byte: bounded, DOWNLOAD.TRUNCATED', async () => {
  const server = await origin(() => ({ kind: 'truncate', afterBytes: 100 }));
  const cache = await ContentCache.open(await cacheDir());
  const http = source(server.url, { maxAttemptsPerBlock: 4 });
  await assert.rejects(
    downloadIntoCache({ cache, manifest, sources: [http], signal: new AbortController().signal }),
    (e: unknown) => e instanceof DownloadSourceError && e.code === AgentErrorCode.DownloadTruncated && e.retryable,
  );
  assert.equal(server.requests.length, 4);
  assert.equal(http.stats.truncatedResponses, 4);
  assert.deepEqual(await cache.list(), []);
});

test('an ETag for other content: refused at once, nothing written', async () => {
  const server = await origin(undefined, `"${'0'.repeat(64)}"`);
  const cache = await ContentCache.open(await cacheDir());
  await assert.rejects(
    downloadIntoCache({ cache, manifest, sources: [source(server.url)], signal: new AbortController().signal }),
    (e: unknown) => e instanceof DownloadSourceError && e.code === AgentErrorCode.DownloadEtagMismatch && !e.retryable,
  );
  assert.equal(server.requests.length, 1);
  assert.equal((await cache.openPartial(manifest)).missingBlocks().length, BLOCKS);
});

test('no ETag at all: accepted (the blocks are verified anyway)', async () => {
  const server = await origin(undefined, null);
  const cache = await ContentCache.open(await cacheDir());
  await downloadIntoCache({ cache, manifest, sources: [source(server.url)], signal: new AbortController().signal });
  await assertCachedCorrectly(cache);
});

test('404: not retried, DOWNLOAD.NOT_FOUND', async () => {
  const server = await origin(() => ({ kind: 'status', status: 404 }));
  const cache = await ContentCache.open(await cacheDir());
  await assert.rejects(
    downloadIntoCache({ cache, manifest, sources: [source(server.url)], signal: new AbortController().signal }),
    (e: unknown) => e instanceof DownloadSourceError && e.code === AgentErrorCode.DownloadNotFound && !e.retryable,
  );
  assert.equal(server.requests.length, 1);
});

test('503 twice, then fine: retried and completed', async () => {
  const server = await origin((n) => (n < 2 ? { kind: 'status', status: 503 } : { kind: 'ok' }));
  const cache = await ContentCache.open(await cacheDir());
  const http = source(server.url);
  await downloadIntoCache({ cache, manifest, sources: [http], signal: new AbortController().signal });
  await assertCachedCorrectly(cache);
  assert.equal(http.stats.failedRequests, 2);
  assert.equal(server.requests.length, 3);
});

test('an origin that ignores Range on a resume: the known prefix is skipped, the file still verified', async () => {
  const server = await origin((n) => (n === 0 ? { kind: 'truncate', afterBytes: 3 * BS } : { kind: 'ignore-range' }));
  const cache = await ContentCache.open(await cacheDir());
  const seen = watched(source(server.url));
  await downloadIntoCache({ cache, manifest, sources: [seen], signal: new AbortController().signal });
  await assertCachedCorrectly(cache);
  assert.equal(server.requests[1]!.status, 200);
  assert.equal(seen.written.length, BLOCKS, 'blocks 0-2 were not written twice');
});

test('a stalled response: dropped after the idle timeout and retried', async () => {
  const server = await origin((n) => (n === 0 ? { kind: 'stall', afterBytes: 2 * BS } : { kind: 'ok' }));
  const cache = await ContentCache.open(await cacheDir());
  const http = source(server.url, { idleTimeoutMs: 300 });
  await downloadIntoCache({ cache, manifest, sources: [http], signal: new AbortController().signal });
  await assertCachedCorrectly(cache);
  assert.equal(http.stats.truncatedResponses, 1);
  assert.equal(server.requests[1]!.range, rangeFrom(2));
});

test('nothing listening: DOWNLOAD.ORIGIN_UNREACHABLE, naming the origin and why, after bounded attempts', async () => {
  // A port that was just free: bind, note, close.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const cache = await ContentCache.open(await cacheDir());
  const http = source(`http://127.0.0.1:${port}/content/file`, { maxAttemptsPerBlock: 3 });
  await assert.rejects(
    downloadIntoCache({ cache, manifest, sources: [http], signal: new AbortController().signal }),
    (e: unknown) =>
      e instanceof DownloadSourceError &&
      e.code === AgentErrorCode.DownloadOriginUnreachable &&
      e.message.includes(`the origin http://127.0.0.1:${port}/content/file cannot be reached from this device`) &&
      /ECONNREFUSED/.test(e.message),
  );
  assert.equal(http.stats.failedRequests, 3);
});

test('an abort during the back-off wait ends the fetch at once', async () => {
  const server = await origin(() => ({ kind: 'status', status: 503 }));
  const cache = await ContentCache.open(await cacheDir());
  const controller = new AbortController();
  // A back-off long enough that only the abort can end the wait within the test's deadline.
  const http = source(server.url, { retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 } });
  const running = downloadIntoCache({ cache, manifest, sources: [http], signal: controller.signal });
  await waitFor(() => http.stats.failedRequests === 1, 'the first failure');
  controller.abort();
  await assert.rejects(running, (e: unknown) => e instanceof DownloadAbortedError);
  assert.equal(server.requests.length, 1);
});

test('block indexes outside the manifest are refused before any request', async () => {
  const server = await origin();
  await assert.rejects(
    source(server.url).fetchBlocks({ manifest, blocks: [BLOCKS], sink: async () => undefined, signal: new AbortController().signal }),
    (e: unknown) => e instanceof DownloadSourceError && !e.retryable,
  );
  assert.equal(server.requests.length, 0);
});

test('a sink that refuses a block stops the fetch with the sink error, not a network one', async () => {
  const server = await origin();
  const refusal = new Error('disk full');
  await assert.rejects(
    source(server.url).fetchBlocks({
      manifest,
      blocks: [0, 1, 2],
      sink: async (index) => {
        if (index === 1) throw refusal;
      },
      signal: new AbortController().signal,
    }),
    (e: unknown) => e === refusal,
  );
  assert.equal(server.requests.length, 1);
});

test('a WAN rate cap: the body is read no faster than the cap, and the blocks still verify', async () => {
  const server = await origin();
  const dir = await cacheDir();
  // The whole content at 2,000 kbit/s takes at least size x 8 / 2,000 ms; uncapped it takes a few ms on loopback.
  const rateKbps = 2_000;
  const startedAt = Date.now();
  const result = await downloadIntoCache({ cache: await ContentCache.open(dir), manifest, sources: [source(server.url, { rateKbps })], signal: new AbortController().signal });
  const elapsedMs = Date.now() - startedAt;
  const floorMs = ((data.length * 8) / rateKbps) * 0.9;
  assert.ok(elapsedMs >= floorMs, `${data.length} bytes in ${elapsedMs} ms: faster than the cap allows (${floorMs.toFixed(0)} ms at least)`);
  assert.equal(createHash('sha256').update(await readFile(result.path)).digest('hex'), manifest.contentId);
});
