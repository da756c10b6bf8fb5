import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import http, { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { MANIFEST_BLOCK_SIZE, Manifest, blockRange, verifyBlock } from '@fleetcast/content';
import { DownloadSource, DownloadSourceError, FetchBlocksRequest } from '../src/core/download-source';
import { PeerBlocksUnavailableError, PeerErrorCode } from '../src/core/peer-errors';
import { downloadIntoCache } from '../src/adapters/cache-download';
import { ContentCache, PartialContent } from '../src/adapters/content-cache';
import { HttpSource } from '../src/adapters/http-source';
import { PeerBlockServer } from '../src/adapters/peer-block-server';
import { PeerSource, PeerSourceOptions } from '../src/adapters/peer-source';
import { ContentFixture, makeContent, tempDir } from './support/content-fixture';
import { startTestOrigin } from './support/test-origin';

/**
 * Peer repair over real HTTP on 127.0.0.1: every "device" is a ContentCache in its own folder with
 * its own peer block server on a free port. 6 MiB at the production block size (1 MiB) is 6 blocks.
 */

const BS = MANIFEST_BLOCK_SIZE;
const BLOCKS = 6;
const content: ContentFixture = makeContent(BLOCKS * BS, BS);
const { data, manifest } = content;
const cleanups: Array<() => Promise<void>> = [];

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface Device {
  cache: ContentCache;
  server: PeerBlockServer;
  url: string;
}

/** A device with its cache and peer server; `holds` = 'all' completes the file, an array writes those blocks (verified) to a partial. */
async function device(name: string, holds: 'all' | number[]): Promise<Device & { partial: PartialContent | null }> {
  const { dir, remove } = await tempDir(`peer-${name}`);
  cleanups.push(remove);
  const cache = await ContentCache.open(dir);
  const blocks = holds === 'all' ? [...Array(BLOCKS).keys()] : holds;
  let partial: PartialContent | null = null;
  if (blocks.length > 0) {
    partial = await cache.openPartial(manifest);
    for (const i of blocks) await partial.writeBlock(i, block(i));
    if (holds === 'all') {
      await partial.complete();
      partial = null;
    }
  }
  const server = await PeerBlockServer.start({ cache, host: '127.0.0.1', port: 0 });
  cleanups.push(() => server.close());
  return { cache, server, url: server.url, partial };
}

function block(i: number): Buffer {
  const { start, end } = blockRange(manifest, i);
  return data.subarray(start, end);
}

function peerSource(peers: string[], extra: Partial<PeerSourceOptions> = {}): PeerSource {
  const source = new PeerSource({ peers, retry: { baseDelayMs: 5, maxDelayMs: 20 }, ...extra });
  cleanups.push(async () => source.close());
  return source;
}

/** Passes calls through and asserts that every block offered to the sink matches the manifest. */
function watched(inner: DownloadSource): DownloadSource & { written: number[] } {
  const written: number[] = [];
  return {
    kind: inner.kind,
    written,
    fetchBlocks: (request: FetchBlocksRequest) =>
      inner.fetchBlocks({
        ...request,
        sink: async (index, bytes) => {
          assert.ok(verifyBlock(request.manifest, index, bytes), `block ${index} reached the sink unverified`);
          written.push(index);
          await request.sink(index, bytes);
        },
      }),
  };
}

async function assertComplete(cache: ContentCache, m: Manifest = manifest): Promise<void> {
  const file = await readFile(cache.path(m.contentId));
  assert.equal(createHash('sha256').update(file).digest('hex'), m.contentId);
  assert.ok(file.equals(data));
}

async function get(url: string, method = 'GET'): Promise<{ status: number; body: Buffer; json: () => any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, body, json: () => JSON.parse(body.toString('utf8')) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A lying peer: forwards to a real peer server and flips a byte in the block bodies it chooses
 * (`corrupt(n)` for the n-th block request, 0-based). Everything else passes unchanged.
 */
async function corruptingPeer(target: string, corrupt: (n: number) => boolean): Promise<{ url: string; blockRequests: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    const isBlock = /^\/v1\/blocks\/[0-9a-f]{64}\/\d+/.test(req.url ?? '');
    const k = isBlock ? n++ : -1;
    http
      .get(new URL(req.url ?? '/', target), { agent: false }, (up) => {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const body = Buffer.concat(chunks);
          if (isBlock && up.statusCode === 200 && corrupt(k)) body[body.length >> 1]! ^= 0xff;
          res.writeHead(up.statusCode ?? 502, { 'content-type': up.headers['content-type'] ?? 'application/octet-stream', 'content-length': body.length });
          res.end(body);
        });
      })
      .on('error', () => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, blockRequests: () => n };
}

let A: Device;
let B: Device;

before(async () => {
  assert.equal(manifest.blockSize, BS);
  assert.equal(Math.ceil(data.length / BS), BLOCKS);
  A = await device('a', 'all');
  B = await device('b', [0, 1, 2]);
});

test('holdings: a complete file is one range, a partial its verified blocks', async () => {
  const a = await get(`${A.url}/v1/blocks/${manifest.contentId}`);
  assert.equal(a.status, 200);
  assert.deepEqual(a.json(), { contentId: manifest.contentId, size: data.length, blockSize: BS, blockCount: BLOCKS, complete: true, ranges: [{ first: 0, count: 6 }], truncated: false });
  const b = await get(`${B.url}/v1/blocks/${manifest.contentId}?blockSize=${BS}`);
  assert.equal(b.status, 200);
  assert.deepEqual(b.json().ranges, [{ first: 0, count: 3 }]);
  assert.equal(b.json().complete, false);
  const block1 = await get(`${B.url}/v1/blocks/${manifest.contentId}/1`);
  assert.equal(block1.status, 200);
  assert.ok(block1.body.equals(block(1)));
  const block4 = await get(`${B.url}/v1/blocks/${manifest.contentId}/4`);
  assert.equal(block4.status, 404);
  assert.equal(block4.json().code, PeerErrorCode.NotHeld);
});

test('C fetches everything from A (complete) and B (partial): verified file, both peers served', async () => {
  const C = await device('c', []);
  const servedBefore = { a: A.server.stats.blocksServed, b: B.server.stats.blocksServed, aBytes: A.server.stats.bytesServed, bBytes: B.server.stats.bytesServed };
  const peers = peerSource([A.url, B.url]);
  const source = watched(peers);
  const progress: Record<string, number> = {};
  const started = process.hrtime.bigint();
  const result = await downloadIntoCache({
    cache: C.cache,
    manifest,
    sources: [source],
    signal: new AbortController().signal,
    onProgress: (kind, bytes) => (progress[kind] = (progress[kind] ?? 0) + bytes),
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(result.blocksFetched, BLOCKS);
  await assertComplete(C.cache);
  assert.deepEqual([...source.written].sort(), [0, 1, 2, 3, 4, 5]);
  const servedA = A.server.stats.blocksServed - servedBefore.a;
  const servedB = B.server.stats.blocksServed - servedBefore.b;
  assert.ok(servedA > 0 && servedB > 0, `both peers served: A ${servedA}, B ${servedB}`);
  assert.equal(servedA + servedB, BLOCKS, 'each block fetched once');
  assert.equal(A.server.stats.bytesServed - servedBefore.aBytes + (B.server.stats.bytesServed - servedBefore.bBytes), data.length);
  assert.equal(progress.peer, data.length);
  assert.equal(peers.stats.corruptBlocks, 0);
  assert.deepEqual(
    peers.stats.byPeer.map((p) => p.blocksDelivered),
    [servedA, servedB],
  );
  // Blocks 3-5 only A holds; 0-2 are spread, so B served some of the low blocks.
  console.log(`# peer repair: 6 MiB from 2 peers in ${ms.toFixed(1)} ms = ${(data.length / 1e6 / (ms / 1000)).toFixed(0)} MB/s (A ${servedA} blocks, B ${servedB})`);
});

test('throughput: one peer on loopback (figure, not a limit)', async () => {
  const rounds = 3;
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const D = await device(`speed${r}`, []);
    const peers = peerSource([A.url]);
    const started = process.hrtime.bigint();
    await downloadIntoCache({ cache: D.cache, manifest, sources: [peers], signal: new AbortController().signal });
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e6);
    await assertComplete(D.cache);
  }
  console.log(`# peer repair: 6 MiB from 1 peer, best of ${rounds}: ${best.toFixed(1)} ms = ${(data.length / 1e6 / (best / 1000)).toFixed(0)} MB/s (includes each block's datasync)`);
});

test('a peer that serves a corrupt block: detected, counted, fetched from the other peer, never written', async () => {
  const C = await device('c-corrupt', []);
  // The liar gets the first block request (the chooser breaks ties by lower index) and corrupts it.
  const liar = await corruptingPeer(A.url, (n) => n === 0);
  // One request per peer at a time, so that the liar is asked exactly once before it is caught.
  const peers = peerSource([liar.url, A.url], { maxParallelPerPeer: 1 });
  const source = watched(peers);
  await downloadIntoCache({ cache: C.cache, manifest, sources: [source], signal: new AbortController().signal });
  await assertComplete(C.cache);
  assert.equal(peers.stats.corruptBlocks, 1);
  assert.equal(peers.stats.peersMarkedBad, 1);
  assert.equal(peers.stats.byPeer[0]!.corruptBlocks, 1);
  assert.equal(peers.stats.byPeer[0]!.blocksDelivered, 0, 'the liar was asked once: its first block was bad');
  assert.equal(liar.blockRequests(), 1, 'a peer marked bad is not asked again');
  assert.equal(peers.stats.byPeer[1]!.blocksDelivered, BLOCKS);
  assert.equal(source.written.length, BLOCKS, 'each block written once, none of them bad');
});

test('blocks no peer has: rejection lists exactly them; then [peers, origin] fetches only those from the origin', async () => {
  const D = await device('d', [4]);
  const peers = peerSource([B.url, D.url]);

  // 1. The peer source alone: blocks 3 and 5 are nowhere on the subnet.
  const E1 = await device('e1', []);
  const partial = await E1.cache.openPartial(manifest);
  const error = await peers
    .fetchBlocks({ manifest, blocks: partial.missingBlocks(), signal: new AbortController().signal, sink: (i, b) => partial.writeBlock(i, b) })
    .then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
  assert.ok(error instanceof PeerBlocksUnavailableError, String(error));
  assert.ok(error instanceof DownloadSourceError);
  assert.equal(error.retryable, true);
  assert.equal(error.code, PeerErrorCode.BlocksUnavailable);
  assert.deepEqual(error.blocks, [3, 5]);
  assert.deepEqual(partial.missingBlocks(), [3, 5], 'what the peers had was delivered before the rejection');

  // 2. The whole chain into a fresh cache: peers first, the origin last.
  const origin = await startTestOrigin({ data, etag: `"${manifest.contentId}"` });
  cleanups.push(origin.close);
  const E2 = await device('e2', []);
  const http1 = new HttpSource({ url: origin.url, deviceId: 'device-e2', subnet: '127.0.0.0/8', retry: { baseDelayMs: 5, maxDelayMs: 20 } });
  const peers2 = peerSource([B.url, D.url]);
  const progress: Record<string, number> = {};
  const result = await downloadIntoCache({
    cache: E2.cache,
    manifest,
    sources: [peers2, http1],
    signal: new AbortController().signal,
    onProgress: (kind, bytes) => (progress[kind] = (progress[kind] ?? 0) + bytes),
  });
  assert.equal(result.blocksFetched, BLOCKS);
  await assertComplete(E2.cache);
  assert.equal(origin.bytesServed(), 2 * BS, 'the origin served blocks 3 and 5 only');
  assert.deepEqual(
    origin.requests.map((r) => r.range),
    [`bytes=${3 * BS}-${4 * BS - 1}`, `bytes=${5 * BS}-${6 * BS - 1}`],
  );
  assert.equal(progress.origin, 2 * BS);
  assert.equal(progress.peer, 4 * BS);
  assert.equal(peers2.stats.blocksDelivered, 4);
});

test('no peers at all: every wanted block is reported unavailable', async () => {
  const peers = peerSource([]);
  await assert.rejects(
    peers.fetchBlocks({ manifest, blocks: [0, 1, 5], signal: new AbortController().signal, sink: async () => assert.fail('nothing to write') }),
    (e: unknown) => e instanceof PeerBlocksUnavailableError && e.blocks.join() === '0,1,5',
  );
});

test('an unreachable peer is skipped; the others serve', async () => {
  // A port that was free a moment ago: connection refused.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const deadPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const C = await device('c-dead', []);
  const peers = peerSource([`http://127.0.0.1:${deadPort}`, A.url]);
  await downloadIntoCache({ cache: C.cache, manifest, sources: [peers], signal: new AbortController().signal });
  await assertComplete(C.cache);
  assert.equal(peers.stats.byPeer[1]!.blocksDelivered, BLOCKS);
});

test('a partial never serves a block it has not verified, nor one an earlier run recorded whose bytes changed on disk', async () => {
  const F = await device('f', [0]);
  const partial = F.partial!;
  // Block 1's bytes land in the .part but the record never names them (as mid-write, before the record).
  const handle = await open(partial.partPath, 'r+');
  try {
    await handle.write(block(1), 0, BS, blockRange(manifest, 1).start);
  } finally {
    await handle.close();
  }
  const unverified = await get(`${F.url}/v1/blocks/${manifest.contentId}/1`);
  assert.equal(unverified.status, 404);
  assert.equal(unverified.json().code, PeerErrorCode.NotHeld);
  assert.deepEqual((await get(`${F.url}/v1/blocks/${manifest.contentId}`)).json().ranges, [{ first: 0, count: 1 }]);

  const good = await get(`${F.url}/v1/blocks/${manifest.contentId}/0`);
  assert.equal(good.status, 200);
  assert.ok(good.body.equals(block(0)));

  // A restarted agent resumes the download from its record: block 0 is held, but this process never
  // saw its bytes, so they are hashed as read; the disk changed under it: refused.
  const resumed = await ContentCache.open(F.cache.cacheDir);
  assert.ok((await resumed.openPartial(manifest)).has(0));
  const server = await PeerBlockServer.start({ cache: resumed, host: '127.0.0.1', port: 0 });
  cleanups.push(() => server.close());
  assert.ok((await get(`${server.url}/v1/blocks/${manifest.contentId}/0`)).body.equals(block(0)));
  const h2 = await open(partial.partPath, 'r+');
  try {
    await h2.write(Buffer.from([block(0)[100]! ^ 0xff]), 0, 1, 100);
  } finally {
    await h2.close();
  }
  assert.equal((await get(`${server.url}/v1/blocks/${manifest.contentId}/0`)).status, 404);
  assert.equal(await resumed.readVerifiedBlock(manifest.contentId, 0, BS), null);
});

test('bad requests: 400 with a code, nothing outside the cache, counted', async () => {
  const id = manifest.contentId;
  const before = A.server.stats.badRequests;
  const cases: Array<[string, number, string, string?]> = [
    [`/v1/blocks/${id.toUpperCase()}`, 400, PeerErrorCode.BadContentId],
    [`/v1/blocks/not-a-content-id/0`, 400, PeerErrorCode.BadContentId],
    [`/v1/blocks/%2e%2e%2f%2e%2e%2fcontent`, 400, PeerErrorCode.BadContentId],
    [`/v1/blocks/${id}/abc`, 400, PeerErrorCode.BadIndex],
    [`/v1/blocks/${id}/-1`, 400, PeerErrorCode.BadIndex],
    [`/v1/blocks/${id}/01`, 400, PeerErrorCode.BadIndex],
    [`/v1/blocks/${id}/6`, 400, PeerErrorCode.BadIndex],
    [`/v1/blocks/${id}/99999999999`, 400, PeerErrorCode.BadIndex],
    [`/v1/blocks/${id}/0?blockSize=0`, 400, PeerErrorCode.BadBlockSize],
    [`/v1/blocks/${id}/0?blockSize=${1024 ** 3}`, 400, PeerErrorCode.BadBlockSize],
    [`/v1/blocks/${id}/0/extra`, 404, PeerErrorCode.NoRoute],
    [`/v1/blocks/../../etc/passwd`, 404, PeerErrorCode.NoRoute],
    [`/content/${id}`, 404, PeerErrorCode.NoRoute],
    [`/v1/blocks/${'0'.repeat(64)}`, 404, PeerErrorCode.NotHeld],
    [`/v1/blocks/${'0'.repeat(64)}/0`, 404, PeerErrorCode.NotHeld],
    [`/v1/blocks/${id}/0`, 405, PeerErrorCode.MethodNotAllowed, 'POST'],
  ];
  for (const [path, status, code, method] of cases) {
    const res = await get(`${A.url}${path}`, method);
    assert.equal(res.status, status, path);
    const body = res.json();
    assert.equal(body.code, code, path);
    assert.equal(typeof body.message, 'string');
  }
  assert.equal(A.server.stats.badRequests - before, 14, 'every 400, 405 and unknown route counted');
});

test('a busy peer (all upload slots taken) answers 503; the fetcher backs off and still completes', async () => {
  const { dir, remove } = await tempDir('peer-busy');
  cleanups.push(remove);
  const cache = await ContentCache.open(dir);
  const partial = await cache.openPartial(manifest);
  for (let i = 0; i < BLOCKS; i++) await partial.writeBlock(i, block(i));
  await partial.complete();
  // One upload at a time and nobody waiting: a fetcher asking 4 at once is turned away at times.
  const narrow = await PeerBlockServer.start({ cache, host: '127.0.0.1', port: 0, maxConcurrentUploads: 1, maxQueuedUploads: 0 });
  cleanups.push(() => narrow.close());
  const C = await device('c-busy', []);
  const peers = peerSource([narrow.url], { maxParallel: 4, maxParallelPerPeer: 4, maxAttemptsPerBlock: 50, retry: { baseDelayMs: 1, maxDelayMs: 5 } });
  await downloadIntoCache({ cache: C.cache, manifest, sources: [peers], signal: new AbortController().signal });
  await assertComplete(C.cache);
  assert.equal(narrow.stats.blocksServed, BLOCKS);
  assert.equal(peers.stats.busyAnswers, narrow.stats.busy, 'every 503 seen by the fetcher was counted by the server');
  console.log(`# peer repair: a 1-slot peer turned away ${narrow.stats.busy} request(s) while serving 6 blocks`);
});

test('the caller aborting ends the fetch with DownloadAbortedError and no later sink call', async () => {
  const controller = new AbortController();
  const peers = peerSource([A.url], { maxParallelPerPeer: 1 });
  let calls = 0;
  let settled = false;
  const fetching = peers.fetchBlocks({
    manifest,
    blocks: [0, 1, 2, 3, 4, 5],
    signal: controller.signal,
    sink: async () => {
      assert.equal(settled, false, 'no sink call after the fetch ended');
      calls += 1;
      if (calls === 1) controller.abort();
    },
  });
  await assert.rejects(fetching, (e: unknown) => e instanceof DownloadSourceError && e.code === 'DOWNLOAD.ABORTED');
  settled = true;
  assert.ok(calls < BLOCKS, `stopped early (${calls} block(s) written)`);
});

test('a sink that refuses a block ends the fetch with its error, passed on as is', async () => {
  const peers = peerSource([A.url]);
  const refusal = new Error('disk full');
  await assert.rejects(
    peers.fetchBlocks({
      manifest,
      blocks: [0, 1, 2, 3, 4, 5],
      signal: new AbortController().signal,
      sink: async () => {
        throw refusal;
      },
    }),
    (e: unknown) => e === refusal,
  );
});

test('throughput without the disk: one peer to memory (figure, not a limit)', async () => {
  const rounds = 5;
  let best = Infinity;
  const peers = peerSource([A.url]);
  for (let r = 0; r < rounds; r++) {
    let bytes = 0;
    const started = process.hrtime.bigint();
    await peers.fetchBlocks({ manifest, blocks: [0, 1, 2, 3, 4, 5], signal: new AbortController().signal, sink: async (_i, b) => void (bytes += b.length) });
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e6);
    assert.equal(bytes, data.length);
  }
  console.log(`# peer repair: 6 MiB from 1 peer to memory, best of ${rounds}: ${best.toFixed(1)} ms = ${(data.length / 1e6 / (best / 1000)).toFixed(0)} MB/s (both ends SHA-256 every block)`);
});
