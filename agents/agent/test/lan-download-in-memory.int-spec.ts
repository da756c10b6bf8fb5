import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { ByteSource, TaskAssignedV1 } from '@fleetcast/contracts';
import { DEFAULT_AGENT_SETTINGS } from '@fleetcast/contracts';
import { blockRange } from '@fleetcast/content';
import { createPacketTagger, decodePacket, generateLanKey, senderIdOf } from '@fleetcast/lan-protocol';
import { createLogger } from '@fleetcast/telemetry';
import { ContentCache } from '../src/adapters/content-cache';
import { LanDownload, LanDownloadResult } from '../src/adapters/lan-download';
import { DownloadSource } from '../src/core/download-source';
import { makeContent, tempDir } from './support/content-fixture';
import { InMemoryLan } from './support/in-memory-lan';

/**
 * The LAN download's drivers (election, sender, receiver, session reducer) on an in-memory LAN:
 * the same code as on the UDP socket down to the encoded, authenticated datagram, without sockets,
 * so that a test decides exactly which datagram is lost.
 */
const logger = createLogger('lan-in-memory-test', 'silent');
/** 1 MiB in 64 KiB blocks: 16 blocks. */
const SIZE = 1024 * 1024;
const BLOCK_SIZE = 64 * 1024;
const ELECTION = { discoveryWindowMs: 300, claimWindowMs: 100, noRepresentativeTimeoutMs: 600 };

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** The origin in memory: serves exact blocks and counts them. */
function memoryOrigin(data: Buffer, manifest: ReturnType<typeof makeContent>['manifest']): DownloadSource & { served: number[] } {
  const served: number[] = [];
  return {
    kind: 'origin',
    served,
    async fetchBlocks(request) {
      for (const index of request.blocks) {
        if (request.signal.aborted) throw new Error('aborted');
        const { start, end } = blockRange(manifest, index);
        served.push(index);
        request.onProgress?.(end - start);
        await request.sink(index, data.subarray(start, end));
      }
    },
  };
}

test('in memory: a representative and two followers through a whole session; a DATA symbol lost at one follower is repaired by the multicast', { timeout: 30_000 }, async () => {
  const content = makeContent(SIZE, BLOCK_SIZE);
  const origin = memoryOrigin(content.data, content.manifest);
  const lanKey = generateLanKey();
  const tagger = createPacketTagger(lanKey);
  const lan = new InMemoryLan();
  const taskId = 'task-in-memory';
  const devices = [
    { id: 'dev-rep', address: '10.0.0.1', weight: 200 },
    { id: 'dev-b', address: '10.0.0.2', weight: 1 },
    { id: 'dev-c', address: '10.0.0.3', weight: 1 },
  ];
  const deviceIds = devices.map((d) => d.id);
  const cId = senderIdOf('dev-c');

  // The first DATA of block 3, symbol 0, never reaches dev-c; NACKs from dev-c are counted on the way.
  let lost = 0;
  let nacksFromC = 0;
  lan.drop = (bytes, to) => {
    if (to !== '10.0.0.3' || lost > 0) return false;
    const decoded = decodePacket(bytes, tagger);
    if (decoded.ok && decoded.value.type === 'data' && decoded.value.block === 3 && decoded.value.index === 0) {
      lost++;
      return true;
    }
    return false;
  };
  lan.tap = (bytes) => {
    const decoded = decodePacket(bytes, tagger);
    if (decoded.ok && decoded.value.type === 'nack' && decoded.value.senderId === cId) nacksFromC++;
  };

  const task = (deviceId: string): TaskAssignedV1 => ({
    taskId,
    deviceId,
    action: 'cache-only',
    package: {
      packageId: 'pkg-1',
      name: 'p',
      version: '1',
      platform: 'linux',
      contentId: content.manifest.contentId,
      size: SIZE,
      downloadUrl: 'http://origin.invalid/',
      installCommand: '/bin/true',
      installArgs: [],
      successExitCodes: [0],
      timeoutSeconds: 60,
    },
    // A long start delay: the multicast starts early only because everyone joined.
    settings: { ...DEFAULT_AGENT_SETTINGS, sessionStartDelaySeconds: 30, profileId: 'default' },
    issuedAt: new Date().toISOString(),
  });

  const running = await Promise.all(
    devices.map(async (device) => {
      const made = await tempDir(`lan-mem-${device.id}`);
      cleanups.push(made.remove);
      const cache = await ContentCache.open(made.dir);
      const port = lan.attach(device.address);
      cleanups.push(async () => port.close());
      const bytes: Record<ByteSource, number> = { origin: 0, parent: 0, multicast: 0, peer: 0 };
      const abort = new AbortController();
      cleanups.push(async () => abort.abort());
      const download = new LanDownload({
        socket: port,
        cache,
        manifest: content.manifest,
        task: task(device.id),
        deviceId: device.id,
        session: { taskId, sessionKey: Buffer.from(lanKey).toString('base64'), subnet: '10.0.0.0/24', subnetDeviceIds: deviceIds },
        weight: device.weight,
        origin,
        signal: abort.signal,
        logger,
        onProgress: (source, n) => {
          bytes[source] += n;
        },
        election: ELECTION,
      });
      return { device, cache, bytes, download, result: download.run() };
    }),
  );
  const results: LanDownloadResult[] = await Promise.all(running.map((r) => r.result));

  assert.deepEqual(
    results.map((r) => r.outcome),
    [{ role: 'representative' }, { role: 'follower', representativeId: senderIdOf('dev-rep') }, { role: 'follower', representativeId: senderIdOf('dev-rep') }],
  );
  for (const { device, cache } of running) {
    assert.ok((await readFile(cache.path(content.manifest.contentId))).equals(content.data), `${device.id}: byte-identical copy in the cache`);
  }
  const [rep, b, c] = running;
  assert.equal(lost, 1, 'the datagram was lost');
  assert.ok(nacksFromC >= 1, 'dev-c asked for the lost symbol');
  assert.ok(rep.download.activity().repairs >= 1, 'the representative sent repair parity');
  assert.equal(origin.served.length, 16, 'the origin served the content once, to the representative');
  assert.deepEqual([b.bytes.origin, c.bytes.origin], [0, 0], 'the followers took nothing from the origin');
  assert.ok(b.bytes.multicast >= SIZE && c.bytes.multicast >= SIZE, 'the followers got the content from the multicast');
  assert.equal(rep.download.activity().sessionStartedAt !== null, true, 'the multicast started (early: everyone joined)');
  for (const { download } of running) assert.equal(download.activity().issue, null);
  assert.deepEqual(
    running.map((r) => r.download.activity().role),
    ['representative', 'receiver', 'receiver'],
  );
});
