import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { BlockHasher, MANIFEST_BLOCK_SIZE, Manifest, verifyBlock } from '@fleetcast/content';
import { PeerErrorCode } from '../src/core/peer-errors';
import { ContentCache } from '../src/adapters/content-cache';
import { PeerBlockServer } from '../src/adapters/peer-block-server';
import { makeContent, tempDir } from './support/content-fixture';

/**
 * The peer block server's bounds over real HTTP: only the manifest block size, whole blocks, and
 * holdings answers of bounded length, so that no request makes it allocate in proportion to the
 * package. A 48 MiB package: with any block size accepted (as before), a request at 1 byte per
 * block listed 50 million block indexes; now it is refused at once, and memory stays flat.
 */
const MiB = 1024 * 1024;
const BS = MANIFEST_BLOCK_SIZE;
const SIZE = 48 * MiB;

const cleanups: Array<() => Promise<void>> = [];
let server: PeerBlockServer;
let contentId: string;
let manifest: Manifest;

function request(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; json: () => any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${path}`, { agent: false, headers }, (res) => {
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

/** Resident memory, the sum of what the process holds whatever the garbage collector did meanwhile. */
const rss = () => process.memoryUsage().rss;

describe('peer block server bounds (real HTTP)', () => {
  before(async () => {
    const { dir, remove } = await tempDir('peer-bounds');
    cleanups.push(remove);
    const cache = await ContentCache.open(dir);
    // A complete package in the cache: constant bytes hash as well as random ones and cost nothing to make.
    const data = Buffer.alloc(SIZE, 7);
    const hasher = new BlockHasher(BS);
    hasher.update(data);
    manifest = hasher.finish();
    contentId = manifest.contentId;
    const partial = await cache.openPartial(manifest);
    for (let i = 0; i < SIZE / BS; i++) await partial.writeBlock(i, data.subarray(i * BS, (i + 1) * BS));
    await partial.complete();
    server = await PeerBlockServer.start({ cache, host: '127.0.0.1', port: 0 });
    cleanups.push(() => server.close());
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test('a block size other than the manifest block size is refused, whether larger, smaller or tiny, naming the one served', async () => {
    const before = server.stats.badRequests;
    for (const [size, why] of [
      [BS * 2, 'larger than'],
      [BS + BS / 2, 'larger than'],
      [BS / 2, 'smaller than'],
      [1, 'smaller than'],
    ] as const) {
      for (const path of [`/v1/blocks/${contentId}?blockSize=${size}`, `/v1/blocks/${contentId}/3?blockSize=${size}`]) {
        const res = await request(path);
        assert.equal(res.status, 400, path);
        assert.equal(res.json().code, PeerErrorCode.BadBlockSize, path);
        assert.equal(res.json().message, `block size ${size} is ${why} the manifest block size ${BS}, the only one this peer serves (blocks of another size do not match the manifest's hashes)`);
      }
    }
    assert.equal(server.stats.badRequests - before, 8);
    assert.equal(server.stats.blocksServed, 0, 'no block was read for them');
  });

  test('a Range header is refused: blocks are served whole', async () => {
    for (const range of ['bytes=0-99', `bytes=0-${SIZE * 4}`, 'bytes=524288-', 'bytes=-1']) {
      const res = await request(`/v1/blocks/${contentId}/2`, { range });
      assert.equal(res.status, 400, range);
      assert.equal(res.json().code, PeerErrorCode.RangeNotServed);
      assert.match(res.json().message, /served whole/);
    }
    const holdings = await request(`/v1/blocks/${contentId}`, { range: 'bytes=0-10' });
    assert.equal(holdings.json().code, PeerErrorCode.RangeNotServed);
  });

  test('the manifest block size is served: whole verified blocks and a one-range holdings answer', async () => {
    const holdings = await request(`/v1/blocks/${contentId}?blockSize=${BS}`);
    assert.equal(holdings.status, 200);
    assert.deepEqual(holdings.json(), { contentId, size: SIZE, blockSize: BS, blockCount: SIZE / BS, complete: true, ranges: [{ first: 0, count: SIZE / BS }], truncated: false });
    const block = await request(`/v1/blocks/${contentId}/47`);
    assert.equal(block.status, 200);
    assert.ok(verifyBlock(manifest, 47, block.body));
    assert.equal((await request(`/v1/blocks/${contentId}/48`)).json().code, PeerErrorCode.BadIndex);
  });

  test('memory stays flat under a stream of refused and holdings requests for a large package', async () => {
    const start = rss();
    let peak = start;
    for (let round = 0; round < 20; round++) {
      const answers = await Promise.all([
        request(`/v1/blocks/${contentId}?blockSize=1`),
        request(`/v1/blocks/${contentId}/0?blockSize=1`),
        request(`/v1/blocks/${contentId}/40000000?blockSize=1`),
        request(`/v1/blocks/${contentId}`),
        request(`/v1/blocks/${contentId}/1`, { range: 'bytes=0-' }),
      ]);
      assert.deepEqual(answers.map((a) => a.status), [400, 400, 400, 200, 400]);
      peak = Math.max(peak, rss());
    }
    // One 1-byte-block listing of 48 MiB alone was 50 million numbers (hundreds of MB).
    assert.ok(peak - start < 32 * MiB, `resident memory grew ${((peak - start) / MiB).toFixed(1)} MiB`);
    console.log(`# peer server: 100 adversarial requests for a ${SIZE / MiB} MiB package, resident memory +${((peak - start) / MiB).toFixed(1)} MiB`);
  });

  test('a partial download fragmented into more runs than an answer carries: the first runs, marked truncated', async () => {
    const { dir, remove } = await tempDir('peer-bounds-frag');
    cleanups.push(remove);
    const cache = await ContentCache.open(dir);
    // Every other block of 24 held: 12 runs, with answers of at most 5 (MAX_HOLDINGS_RANGES in production).
    const small = 1024;
    const frag = makeContent(24 * small, small);
    const partial = await cache.openPartial(frag.manifest);
    for (let i = 0; i < 24; i += 2) await partial.writeBlock(i, frag.data.subarray(i * small, (i + 1) * small));
    const fragServer = await PeerBlockServer.start({ cache, host: '127.0.0.1', port: 0, blockSize: small, maxHoldingsRanges: 5 });
    cleanups.push(() => fragServer.close());
    const res = await new Promise<any>((resolve, reject) =>
      http
        .get(`${fragServer.url}/v1/blocks/${frag.manifest.contentId}`, { agent: false }, (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
        })
        .on('error', reject),
    );
    assert.deepEqual(res.ranges, [0, 2, 4, 6, 8].map((first) => ({ first, count: 1 })));
    assert.equal(res.truncated, true);
    assert.equal(res.blockCount, 24);
  });
});
