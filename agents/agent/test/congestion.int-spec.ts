import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BlockHasher, Manifest } from '@fleetcast/content';
import { PACKET_TYPE_CODES, generateLanKey, seededRandom } from '@fleetcast/lan-protocol';
import { ContentCache } from '../src/adapters/content-cache';
import { MulticastIncompleteError, MulticastSource } from '../src/adapters/multicast-source';
import { MulticastSender } from '../src/adapters/multicast-sender';
import { fillCache, tempDir } from './support/content-fixture';
import { InMemoryLan } from './support/in-memory-lan';

/**
 * Congestion control through the real drivers on an in-memory LAN: one sender, three fast
 * receivers and one that loses 80 % of the DATA and PARITY sent to it (a device on a slow link
 * whose queue overflows). With congestion control the slow receiver finds itself far below the
 * others, declares itself behind and stops NACKing, and the sender sends next to no repair; without
 * it, the slow receiver's NACKs fill the LAN with parity the others do not need.
 */
const SIZE = 8 * 1024 * 1024;
const BLOCK_SIZE = 256 * 1024;
/** 40 Mbit/s cap: 8 MiB takes about 1.7 s, long enough for the 0.3 s it takes to tell a slow receiver. */
const RATE_CAP_KBPS = 40_000;
const SLOW_LOSS = 0.8;

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

let content: Buffer;
let manifest: Manifest;
let senderCache: ContentCache;

before(async () => {
  content = randomBytes(SIZE);
  const hasher = new BlockHasher(BLOCK_SIZE);
  hasher.update(content);
  manifest = hasher.finish();
  const { dir, remove } = await tempDir('cc-sender');
  cleanups.push(remove);
  senderCache = await ContentCache.open(dir);
  await fillCache(senderCache, { data: content, manifest });
});

async function session(congestion: boolean) {
  const lan = new InMemoryLan();
  const random = seededRandom(7);
  const symbolCodes = new Set<number>([PACKET_TYPE_CODES.data, PACKET_TYPE_CODES.parity]);
  lan.drop = (bytes, to) => to === 'slow' && symbolCodes.has(bytes[3]) && random() < SLOW_LOSS;
  const taskId = `task-cc-${congestion ? 'on' : 'off'}`;
  const lanKey = generateLanKey();
  const receivers = await Promise.all(
    ['fast1', 'fast2', 'fast3', 'slow'].map(async (name, i) => {
      const port = lan.attach(name);
      cleanups.push(async () => port.close());
      const { dir, remove } = await tempDir(`cc-${name}`);
      cleanups.push(remove);
      const partial = await (await ContentCache.open(dir)).openPartial(manifest);
      const source = new MulticastSource({ socket: port, taskId, deviceId: `device-${name}`, lanKey, random: seededRandom(10 + i), congestion: congestion ? {} : false });
      const controller = new AbortController();
      cleanups.push(async () => controller.abort());
      const fetch = source.fetchBlocks({ manifest, blocks: partial.missingBlocks(), sink: (b, d) => partial.writeBlock(b, d), signal: controller.signal });
      fetch.catch(() => undefined);
      return { name, source, fetch };
    }),
  );
  const port = lan.attach('sender');
  cleanups.push(async () => port.close());
  const sender = new MulticastSender({
    socket: port,
    taskId,
    deviceId: 'device-representative',
    lanKey,
    weight: 100,
    manifest,
    paths: [senderCache.path(manifest.contentId)],
    session: { rateKbps: RATE_CAP_KBPS },
    congestion: congestion ? {} : false,
  });
  cleanups.push(async () => sender.stop());
  for (let i = 0; i < Math.ceil(SIZE / BLOCK_SIZE); i++) sender.blockReady(i);
  const started = performance.now();
  sender.start();
  const fastDone = await Promise.all(receivers.filter((r) => r.name !== 'slow').map((r) => r.fetch.then(() => performance.now() - started)));
  const slow = receivers.find((r) => r.name === 'slow')!;
  const slowOutcome = await slow.fetch.then(
    () => 'complete',
    (error: unknown) => (error instanceof MulticastIncompleteError ? `missing ${error.missing.length}` : String(error)),
  );
  const stats = await sender.done;
  return { stats, fastMs: Math.max(...fastDone), slow: slow.source.stats, slowOutcome, rate: sender.rateStats };
}

test('congestion control: a receiver losing 80 % declares itself behind; the sender neither slows nor repairs for it', { timeout: 120_000 }, async () => {
  const on = await session(true);
  const off = await session(false);
  console.log(
    `[measure] slow receiver at 80 % loss, 8 MiB at most 40 Mbit/s: with congestion control fast receivers done in ${on.fastMs.toFixed(0)} ms, repair parity ${on.stats.repairParitySent} ` +
      `(data ${on.stats.dataSent}), slow one ${on.slowOutcome}, behind ${on.slow.behind}, NACKs sent ${on.slow.nacksSent} withheld ${on.slow.nacksWithheld}, rate ${JSON.stringify(on.rate)}; ` +
      `without: fast done in ${off.fastMs.toFixed(0)} ms, repair parity ${off.stats.repairParitySent}, slow one ${off.slowOutcome}, NACKs sent ${off.slow.nacksSent}`,
  );
  assert.equal(on.slow.behind, true, 'the slow receiver declared itself behind');
  assert.ok(on.slow.nacksWithheld > 0, 'and withheld its NACKs from then on');
  assert.ok(on.stats.repairParitySent < 0.05 * on.stats.dataSent, `repair parity ${on.stats.repairParitySent} against ${on.stats.dataSent} data symbols`);
  assert.ok(on.rate !== null && on.rate.decreases === 0, `the slow receiver never set the rate: ${JSON.stringify(on.rate)}`);
  // Without the policy the same loss pulls repair for the slow receiver, which the fast ones wait behind.
  assert.ok(off.stats.repairParitySent > 10 * Math.max(1, on.stats.repairParitySent), `without congestion control repair parity ${off.stats.repairParitySent}`);
  assert.ok(on.fastMs < off.fastMs, `fast receivers ${on.fastMs.toFixed(0)} ms with, ${off.fastMs.toFixed(0)} ms without`);
});
