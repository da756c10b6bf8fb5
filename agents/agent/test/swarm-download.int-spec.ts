import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SwarmAnnounce, SwarmPeer, SwarmView } from '@fleetcast/contracts';
import { MANIFEST_BLOCK_SIZE, blockRange } from '@fleetcast/content';
import { createLogger } from '@fleetcast/telemetry';
import { ContentCache } from '../src/adapters/content-cache';
import { HttpSource } from '../src/adapters/http-source';
import { PeerBlockServer } from '../src/adapters/peer-block-server';
import { SwarmDownload } from '../src/adapters/swarm-download';
import { makeContent, tempDir } from './support/content-fixture';
import { startTestOrigin } from './support/test-origin';

/**
 * The swarm download over real HTTP on 127.0.0.1 (a test origin, real peer block servers and a
 * hostile one), with the tasks service's view given by a function: what the device does with the
 * view it gets. The view and the lease themselves are tested against the service
 * (services/tasks/test/swarm.int-spec.ts) and on a lab network (tests/e2e/src/lab-p2p.e2e-spec.ts).
 */
const BS = MANIFEST_BLOCK_SIZE;
const BLOCKS = 6;
const { data, manifest } = makeContent(BLOCKS * BS, BS);
const logger = createLogger('swarm-download-test', 'silent');
const cleanups: Array<() => Promise<void>> = [];

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function cache(name: string): Promise<ContentCache> {
  const { dir, remove } = await tempDir(`swarm-${name}`);
  cleanups.push(remove);
  return ContentCache.open(dir);
}

/** A device that holds the whole content and serves it. */
async function seed(): Promise<string> {
  const c = await cache('seed');
  const partial = await c.openPartial(manifest);
  for (let i = 0; i < BLOCKS; i++) {
    const { start, end } = blockRange(manifest, i);
    await partial.writeBlock(i, data.subarray(start, end));
  }
  await partial.complete();
  const server = await PeerBlockServer.start({ cache: c, host: '127.0.0.1', port: 0 });
  cleanups.push(() => server.close());
  return server.url;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Claims every block and answers each with bytes that match nothing. */
function liar(): Promise<string> {
  return listen(
    createServer((req, res) => {
      const parts = new URL(req.url ?? '/', 'http://x').pathname.split('/');
      if (parts.length === 4) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ contentId: manifest.contentId, size: manifest.size, blockSize: BS, blockCount: BLOCKS, complete: true, ranges: [{ first: 0, count: BLOCKS }], truncated: false }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(BS, 0x5a));
    }),
  );
}

/** A port where nothing listens: a complete holder that went away. */
async function gone(): Promise<string> {
  const server = createServer();
  const url = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  cleanups.pop();
  return url;
}

const complete = (deviceId: string, url: string): SwarmPeer => ({ deviceId, url, complete: true, runs: [] });

/** The view a device gets: these office peers; the lease to whoever asks for it. */
function office(peers: SwarmPeer[], calls: SwarmAnnounce[]): (request: SwarmAnnounce) => Promise<SwarmView> {
  return async (request) => {
    calls.push(request);
    return {
      taskId: request.taskId,
      contentId: manifest.contentId,
      office: { id: 'east', name: 'East', type: 'default' },
      noSwarmReason: null,
      peers,
      parentOffice: null,
      parentPeers: [],
      upstream: { deviceId: request.upstream ? 'me' : 'someone-else', mine: request.upstream, expiresAt: new Date(Date.now() + 6000).toISOString() },
      announceIntervalMs: 100,
    };
  };
}

async function download(peers: SwarmPeer[]) {
  const origin = await startTestOrigin({ data, etag: `"${manifest.contentId}"` });
  cleanups.push(origin.close);
  const calls: SwarmAnnounce[] = [];
  const swarm = new SwarmDownload({
    cache: await cache('fetcher'),
    manifest,
    taskId: 't-1',
    announce: office(peers, calls),
    origin: new HttpSource({ url: origin.url, deviceId: 'me', subnet: null }),
    peerPort: null,
    passHeader: () => null,
    signal: new AbortController().signal,
    logger,
    timing: { idleWaitMs: 50 },
  });
  const result = await swarm.run();
  assert.equal(createHash('sha256').update(await readFile(result.path)).digest('hex'), manifest.contentId);
  return { stats: swarm.stats, calls, originBytes: origin.bytesServed() };
}

test('from two complete peers of the office: nothing from the origin, blocks from both, never the lease', async () => {
  const { stats, calls, originBytes } = await download([complete('a', await seed()), complete('b', await seed())]);
  assert.equal(originBytes, 0);
  assert.equal(stats.blocksFromPeers, BLOCKS);
  assert.equal(stats.upstream, false);
  assert.ok(calls.every((c) => !c.upstream), 'it never asked for the lease: its office held every block');
  assert.equal(calls[calls.length - 1]!.complete, true, 'the last announce says complete');
});

test('a peer that serves corrupt blocks is dropped; the blocks come from the honest one', async () => {
  const bad = await liar();
  const { stats, originBytes } = await download([complete('liar', bad), complete('honest', await seed())]);
  assert.deepEqual(stats.badPeers, [bad]);
  assert.equal(originBytes, 0);
});

test('the only holder is gone: the device rests it, asks for the lease and fetches from the origin', async () => {
  const { stats, calls, originBytes } = await download([complete('sleeping-laptop', await gone())]);
  assert.equal(stats.upstream, true);
  assert.ok(calls.some((c) => c.upstream), 'it asked for the lease');
  assert.equal(originBytes, manifest.size);
  assert.equal(stats.bytesFromOrigin, manifest.size);
});

test('the tasks service does not answer: after 5 failed announces the device fetches from the origin alone, and says why', async () => {
  const origin = await startTestOrigin({ data, etag: `"${manifest.contentId}"` });
  cleanups.push(origin.close);
  const swarm = new SwarmDownload({
    cache: await cache('alone'),
    manifest,
    taskId: 't-2',
    announce: () => Promise.reject(new Error('no responders')),
    origin: new HttpSource({ url: origin.url, deviceId: 'me', subnet: null }),
    peerPort: null,
    passHeader: () => null,
    signal: new AbortController().signal,
    logger,
    timing: { idleWaitMs: 20 },
  });
  await swarm.run();
  assert.equal(swarm.stats.mode, 'origin');
  assert.match(swarm.stats.reason ?? '', /did not answer 5 announces/);
  assert.equal(origin.bytesServed(), manifest.size);
});

test('no peer of the office holds the content: the lease holder takes it from the parent office, counted as parent', async () => {
  const origin = await startTestOrigin({ data, etag: `"${manifest.contentId}"` });
  cleanups.push(origin.close);
  const parentHolder = complete('hq-1', await seed());
  const calls: SwarmAnnounce[] = [];
  const bySource: Record<string, number> = {};
  const swarm = new SwarmDownload({
    cache: await cache('branch'),
    manifest,
    taskId: 't-3',
    announce: async (request) => ({
      ...(await office([], calls)(request)),
      parentOffice: { id: 'hq', name: 'HQ', type: 'default' },
      parentPeers: [parentHolder],
    }),
    origin: new HttpSource({ url: origin.url, deviceId: 'me', subnet: null }),
    peerPort: null,
    passHeader: () => null,
    signal: new AbortController().signal,
    logger,
    onProgress: (source, bytes) => {
      bySource[source] = (bySource[source] ?? 0) + bytes;
    },
    timing: { idleWaitMs: 50 },
  });
  const result = await swarm.run();
  assert.equal(createHash('sha256').update(await readFile(result.path)).digest('hex'), manifest.contentId);
  assert.ok(calls.some((c) => c.upstream), 'it asked for the lease: nobody in its office held a block');
  assert.equal(origin.bytesServed(), 0);
  assert.deepEqual(bySource, { parent: manifest.size }, 'every byte from the parent office, none reported as peer or origin');
  assert.deepEqual([swarm.stats.bytesFromParent, swarm.stats.bytesFromPeers, swarm.stats.bytesFromOrigin], [manifest.size, 0, 0]);
});
