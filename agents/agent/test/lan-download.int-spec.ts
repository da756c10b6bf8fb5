import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ByteSource, TaskAssignedV1 } from '@fleetcast/contracts';
import { DEFAULT_AGENT_SETTINGS } from '@fleetcast/contracts';
import { blockCount, generateSigningKey, publicKeyDerOf } from '@fleetcast/content';
import { AnnouncePacket, generateLanKey, rawPublicKeyOf, senderIdOf, sessionIdOf, signLanTicket } from '@fleetcast/lan-protocol';
import { createLogger } from '@fleetcast/telemetry';
import { ContentCache } from '../src/adapters/content-cache';
import { HttpSource } from '../src/adapters/http-source';
import { LanDownload, LanDownloadResult } from '../src/adapters/lan-download';
import { PeerBlockServer } from '../src/adapters/peer-block-server';
import { SessionClaims, UdpMulticastSocket } from '../src/adapters/udp-multicast';
import { LanClaimKey } from '../src/adapters/lan-claims';
import { ContentFixture, fillCache, makeContent, tempDir } from './support/content-fixture';
import { startTestOrigin, TestOrigin } from './support/test-origin';
import { waitFor } from './support/wait-for';

/**
 * A task's download through the LAN session as the daemon runs it (election, then representative,
 * follower or fallback), with real sockets on loopback and a real HTTP origin; each device has its
 * own socket and cache, as separate agents would. A port of its own keeps it apart from other tests.
 */
const GROUP = '239.255.70.67';
const PORT = 47_581;
const IFACE = '127.0.0.1';
/** 2 MiB in 64 KiB blocks: 32 blocks. */
const SIZE = 2 * 1024 * 1024;
const BLOCK_SIZE = 64 * 1024;
/** Short windows: the logic is the same as with the defaults, the test just waits less. */
const ELECTION = { discoveryWindowMs: 300, claimWindowMs: 100, noRepresentativeTimeoutMs: 600 };
const logger = createLogger('lan-download-test', 'silent');

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

let content: ContentFixture;
let origin: TestOrigin;
let multicastWorks = true;

before(async () => {
  content = makeContent(SIZE, BLOCK_SIZE);
  origin = await startTestOrigin({ data: content.data, etag: `"${content.manifest.contentId}"` });
  cleanups.push(() => origin.close());
  multicastWorks = await loopbackMulticastWorks();
});

/** `injectedReceiveLoss` 1: the socket hears nothing, as on a subnet whose switch drops multicast. */
async function openSocket(injectedReceiveLoss = 0): Promise<UdpMulticastSocket> {
  const socket = await UdpMulticastSocket.open({ group: GROUP, port: PORT, interfaceAddress: IFACE, injectedReceiveLoss });
  cleanups.push(() => socket.close());
  return socket;
}

/** Some hosts' loopback refuses multicast; the tests then skip, saying why. */
async function loopbackMulticastWorks(): Promise<boolean> {
  const a = await openSocket();
  const b = await openSocket();
  const taskId = 'probe-' + randomBytes(4).toString('hex');
  let heard = false;
  const listening = b.join(sessionIdOf(taskId), null, { onPacket: () => (heard = true) });
  const sending = a.join(sessionIdOf(taskId), null, { onPacket: () => undefined });
  sending.send({ type: 'done', sessionId: sessionIdOf(taskId), senderId: senderIdOf('probe'), blocksHeld: 0 });
  try {
    await waitFor(() => heard, 'a multicast probe on loopback', 2_000);
    return true;
  } catch {
    return false;
  } finally {
    listening.leave();
    sending.leave();
  }
}

function taskOf(taskId: string, deviceId: string, settings: Partial<typeof DEFAULT_AGENT_SETTINGS> = {}): TaskAssignedV1 {
  return {
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
      downloadUrl: origin.url,
      installCommand: '/bin/true',
      installArgs: [],
      successExitCodes: [0],
      timeoutSeconds: 60,
    },
    settings: { ...DEFAULT_AGENT_SETTINGS, sessionStartDelaySeconds: 30, ...settings, profileId: 'default' },
    issuedAt: new Date().toISOString(),
  };
}

interface Device {
  id: string;
  cacheDir: string;
  cache: ContentCache;
  download: LanDownload;
  bytes: Record<ByteSource, number>;
  abort: AbortController;
  result: Promise<LanDownloadResult>;
}

async function startDevice(
  taskId: string,
  id: string,
  lanKey: Uint8Array,
  targets: string[],
  options: {
    weight?: number;
    settings?: Partial<typeof DEFAULT_AGENT_SETTINGS>;
    silenceTimeoutMs?: number;
    servePeers?: boolean;
    election?: typeof ELECTION;
    /** Blocks already verified in the device's partial download (an earlier, interrupted run). */
    preload?: number[];
    /** The whole content is in the device's cache already (an earlier task). */
    cached?: boolean;
    /** The cache folder of an earlier run of this device (an agent restarted): kept as it is. */
    cacheDir?: string;
    /** Its socket hears nothing (multicast blocked). */
    deaf?: boolean;
    /** The session's peers as the control plane names them, and the port they serve blocks on. */
    subnetPeers?: Array<{ deviceId: string; address: string }>;
    subnetPeerPort?: number;
    /** Claims required in the session: this device's ticket and the check of the others'. */
    claims?: SessionClaims;
    followStallMs?: number;
  } = {},
): Promise<Device> {
  const socket = await openSocket(options.deaf ? 1 : 0);
  let dir = options.cacheDir;
  if (dir === undefined) {
    const made = await tempDir(`lan-${id}`);
    cleanups.push(made.remove);
    dir = made.dir;
  }
  const cache = await ContentCache.open(dir);
  if (options.preload !== undefined) {
    const partial = await cache.openPartial(content.manifest);
    for (const i of options.preload) await partial.writeBlock(i, content.data.subarray(i * BLOCK_SIZE, Math.min(SIZE, (i + 1) * BLOCK_SIZE)));
  }
  if (options.cached) await fillCache(cache, content);
  let peerPort: number | undefined;
  if (options.servePeers) {
    const server = await PeerBlockServer.start({ cache, host: IFACE, port: 0, blockSize: BLOCK_SIZE });
    cleanups.push(() => server.close());
    peerPort = server.port;
  }
  const bytes: Record<ByteSource, number> = { origin: 0, parent: 0, multicast: 0, peer: 0 };
  const abort = new AbortController();
  cleanups.push(async () => abort.abort());
  const download = new LanDownload({
    socket,
    cache,
    manifest: content.manifest,
    task: taskOf(taskId, id, options.settings),
    deviceId: id,
    session: { taskId, sessionKey: Buffer.from(lanKey).toString('base64'), subnet: '127.0.0.0/8', subnetDeviceIds: targets, subnetPeers: options.subnetPeers },
    subnetPeerPort: options.subnetPeerPort,
    weight: options.weight ?? 1,
    origin: new HttpSource({ url: origin.url, deviceId: id, subnet: '127.0.0.0/8', retry: { baseDelayMs: 5, maxDelayMs: 20 } }),
    signal: abort.signal,
    logger,
    onProgress: (source, n) => {
      bytes[source] += n;
    },
    election: options.election ?? ELECTION,
    silenceTimeoutMs: options.silenceTimeoutMs,
    peerPort,
    claims: options.claims,
    followStallMs: options.followStallMs,
  });
  const result = download.run();
  result.catch(() => undefined);
  return { id, cacheDir: dir, cache, download, bytes, abort, result };
}

/** The whole content, verified, in the cache (as after an earlier task). */
/**
 * A cache folder that holds the whole content already, made before any device of a test starts: a
 * device filling its cache as it starts would join the election late on a loaded machine, after
 * the others had elected one of themselves and fetched from the origin.
 */
async function filledCacheDir(name: string): Promise<string> {
  const made = await tempDir(`lan-${name}`);
  cleanups.push(made.remove);
  await fillCache(await ContentCache.open(made.dir), content);
  return made.dir;
}


async function assertVerifiedCopy(device: Device): Promise<void> {
  assert.ok((await readFile(device.cache.path(content.manifest.contentId))).equals(content.data), `${device.id}: byte-identical copy in the cache`);
}

test('LAN download: one representative fetches from the origin, the others (one of weight 0) get the multicast, started early once all joined', async (t) => {
  if (!multicastWorks) return t.skip('loopback refuses multicast on this host');
  const taskId = 'task-lan-three';
  const lanKey = generateLanKey();
  const ids = ['dev-a', 'dev-b', 'dev-c'];
  const servedBefore = origin.bytesServed();
  const started = performance.now();
  const devices = await Promise.all(ids.map((id, i) => startDevice(taskId, id, lanKey, ids, { weight: i === 2 ? 0 : 1 })));
  const results = await Promise.all(devices.map((d) => d.result));
  const seconds = (performance.now() - started) / 1000;
  for (const d of devices) await assertVerifiedCopy(d);

  const roles = results.map((r) => r.outcome.role);
  assert.equal(roles.filter((r) => r === 'representative').length, 1, `roles ${roles.join(', ')}`);
  assert.notEqual(roles[2], 'representative', 'weight 0 never represents');
  const rep = devices[roles.indexOf('representative')]!;
  const served = origin.bytesServed() - servedBefore;
  console.log(
    `[measure] ${devices.map((d) => `${d.id}${d === rep ? ' (representative)' : ''}: origin ${d.bytes.origin}, multicast ${d.bytes.multicast}`).join('; ')}; origin served ${served} (${(served / SIZE).toFixed(4)} x) in ${seconds.toFixed(2)} s`,
  );
  assert.equal(served, SIZE, 'the content crossed the WAN once');
  for (const d of devices) {
    const lan = d.download.activity();
    if (d === rep) {
      assert.equal(d.bytes.origin, SIZE);
      assert.equal(d.bytes.multicast, 0);
      assert.equal(lan.role, 'representative');
      assert.notEqual(lan.sessionStartedAt, null);
      assert.ok(lan.lanBytesSent >= SIZE, `LAN bytes sent ${lan.lanBytesSent}`);
    } else {
      assert.equal(d.bytes.origin, 0, `${d.id}: nothing from the origin`);
      assert.ok(d.bytes.multicast >= SIZE, `${d.id}: multicast ${d.bytes.multicast}`);
      assert.equal(lan.role, 'receiver');
      assert.equal(lan.sessionStartedAt, null);
    }
    assert.equal(lan.invalidPackets, 0);
  }
  // A 30 s start delay was configured: finishing well before it means every target's JOIN started the session.
  assert.ok(seconds < 20, `done in ${seconds.toFixed(1)} s, before the 30 s start delay`);
});

test('LAN download: a weight-0 device alone falls back to the origin after the no-representative timeout', async (t) => {
  if (!multicastWorks) return t.skip('loopback refuses multicast on this host');
  const device = await startDevice('task-lan-alone', 'dev-alone', generateLanKey(), ['dev-alone'], { weight: 0 });
  const result = await device.result;
  assert.deepEqual(result.outcome, { role: 'fallback', reason: 'no-representative' });
  assert.equal(device.bytes.origin, SIZE);
  assert.equal(device.bytes.multicast, 0);
  assert.equal(device.download.activity().role, 'none');
  await assertVerifiedCopy(device);
});

test('LAN download: the representative stops mid-multicast; the lone follower takes over and fetches exactly its missing blocks from the origin', async (t) => {
  if (!multicastWorks) return t.skip('loopback refuses multicast on this host');
  const taskId = 'task-lan-lost';
  const lanKey = generateLanKey();
  const ids = ['dev-rep', 'dev-follower'];
  // 4 Mbit/s: ~4 s for the 2 MiB, so the middle of the multicast is easy to catch.
  const settings = { lanRateLimitKbps: 4_000, sessionStartDelaySeconds: 0 };
  const rep = await startDevice(taskId, 'dev-rep', lanKey, ids, { weight: 200, settings });
  const follower = await startDevice(taskId, 'dev-follower', lanKey, ids, { weight: 1, settings, silenceTimeoutMs: 1_500 });
  await waitFor(() => follower.bytes.multicast >= SIZE / 3, 'a third of the content multicast', 20_000);
  rep.abort.abort();
  await assert.rejects(rep.result, (e: unknown) => (e as { code?: string }).code === 'DOWNLOAD.ABORTED');
  const result = await follower.result;
  assert.equal(result.outcome.role, 'follower');
  await assertVerifiedCopy(follower);
  const lan = follower.download.activity();
  const blocks = blockCount(SIZE, BLOCK_SIZE);
  const fromOrigin = follower.bytes.origin / BLOCK_SIZE;
  console.log(`[measure] follower after losing its representative: multicast ${follower.bytes.multicast}, origin ${follower.bytes.origin} (${fromOrigin} of ${blocks} blocks), role now ${lan.role}`);
  assert.equal(lan.role, 'representative', 'the survivor was elected and took over the session');
  assert.ok(Number.isInteger(fromOrigin) && fromOrigin > 0 && fromOrigin < blocks, `blocks from the origin: ${fromOrigin}`);
  assert.equal(result.blocksFetched, blocks, 'every block fetched once: what the multicast gave was kept, the origin sent exactly the rest');
});

test('LAN download: the representative killed a third into the multicast; a successor is elected, continues from the blocks on the subnet, and everyone completes', async (t) => {
  if (!multicastWorks) return t.skip('loopback refuses multicast on this host');
  const taskId = 'task-lan-failover';
  const lanKey = generateLanKey();
  const ids = ['dev-fo-rep', 'dev-fo-1', 'dev-fo-2', 'dev-fo-3'];
  // All four join before the first representative starts (30 s delay, started early once all joined);
  // 4 Mbit/s makes the multicast take ~4 s, so a third of it is easy to catch.
  const settings = { lanRateLimitKbps: 4_000, sessionStartDelaySeconds: 30 };
  const servedBefore = origin.bytesServed();
  // The first representative serves no peers: once killed, nothing of it is left on the subnet.
  const rep = await startDevice(taskId, ids[0]!, lanKey, ids, { weight: 200, settings });
  // Two survivors hold two different blocks from an earlier run, far ahead of the multicast: whoever
  // succeeds lacks some of them, and must take them from a peer, not from the origin.
  const blocks = blockCount(SIZE, BLOCK_SIZE);
  const preloads = [[blocks - 4, blocks - 3], [blocks - 2, blocks - 1], []];
  const others = await Promise.all(ids.slice(1).map((id, i) => startDevice(taskId, id, lanKey, ids, { weight: 1, settings, servePeers: true, preload: preloads[i] })));
  await waitFor(() => others.every((d) => d.bytes.multicast >= SIZE / 3), 'a third of the content multicast to every follower', 20_000);
  rep.abort.abort();
  const killedAt = performance.now();
  // What the subnet held at the kill: the union of the survivors' verified blocks.
  const onSubnet = new Set<number>();
  const heldSets: Array<Set<number>> = [];
  for (const d of others) {
    const held = new Set((await d.cache.heldBlocks(content.manifest.contentId, BLOCK_SIZE))?.blocks ?? []);
    heldSets.push(held);
    for (const i of held) onSubnet.add(i);
  }
  const heldAtKill = heldSets.map((h) => h.size);
  const unsent = blocks - onSubnet.size;
  await assert.rejects(rep.result, (e: unknown) => (e as { code?: string }).code === 'DOWNLOAD.ABORTED');
  const results = await Promise.all(others.map((d) => d.result));
  const seconds = (performance.now() - killedAt) / 1000;
  for (const d of others) await assertVerifiedCopy(d);

  const successors = others.filter((d) => d.download.activity().role === 'representative');
  const served = origin.bytesServed() - servedBefore;
  const bound = rep.bytes.origin + unsent * BLOCK_SIZE;
  console.log(
    `[measure] failover: first representative fetched ${rep.bytes.origin} from the origin; at the kill the survivors held ${heldAtKill.join('/')} of ${blocks} blocks (${unsent} on no device); ` +
      `${others.map((d) => `${d.id}${successors.includes(d) ? ' (successor)' : ''}: origin ${d.bytes.origin}, multicast ${d.bytes.multicast}, peer ${d.bytes.peer}, LAN sent ${d.download.activity().lanBytesSent}`).join('; ')}; ` +
      `origin served ${served} in total (bound ${bound}); all complete ${seconds.toFixed(2)} s after the kill`,
  );
  assert.equal(successors.length, 1, `exactly one successor: ${others.map((d) => d.download.activity().role).join(', ')}`);
  for (const r of results) assert.equal(r.outcome.role, 'follower', 'every survivor first followed the killed representative');
  assert.ok(served <= bound, `origin served ${served} <= first representative's ${rep.bytes.origin} + ${unsent} unsent blocks x ${BLOCK_SIZE}`);
  const successor = successors[0]!;
  assert.ok(successor.bytes.origin <= unsent * BLOCK_SIZE, `the successor fetched only blocks no device had: ${successor.bytes.origin}`);
  // What another survivor held and the successor did not came from that survivor (or from the
  // multicast still in flight at the kill), never from the origin.
  const heldBySuccessor = heldSets[others.indexOf(successor)]!;
  const elsewhereOnly = [...onSubnet].filter((i) => !heldBySuccessor.has(i)).length;
  assert.ok(successor.bytes.peer <= elsewhereOnly * BLOCK_SIZE, `successor peer bytes ${successor.bytes.peer}, at most the ${elsewhereOnly} blocks only others held`);
  // The first representative heard in the election that others held blocks: it took those from them.
  assert.equal(rep.bytes.peer, 4 * BLOCK_SIZE, 'the first representative took the four preloaded blocks from their holders');
  for (const [i, d] of others.entries()) {
    // Each block fetched exactly once besides those held from the start: nothing held was fetched again.
    assert.equal(results[i]!.blocksFetched, blocks - preloads[i]!.length, `${d.id}: no block fetched twice`);
    if (!successors.includes(d)) assert.equal(d.bytes.origin, 0, `${d.id}: nothing from the origin`);
    assert.equal(d.download.activity().invalidPackets, 0);
  }
});

test('LAN download: a late joiner gets the second half from the multicast and the first half from a peer that completed, nothing from the origin', async (t) => {
  if (!multicastWorks) return t.skip('loopback refuses multicast on this host');
  const taskId = 'task-lan-late';
  const lanKey = generateLanKey();
  const ids = ['dev-first', 'dev-early', 'dev-late'];
  const settings = { lanRateLimitKbps: 4_000, sessionStartDelaySeconds: 0 };
  const rep = await startDevice(taskId, 'dev-first', lanKey, ids, { weight: 200, settings, servePeers: true });
  const early = await startDevice(taskId, 'dev-early', lanKey, ids, { settings, servePeers: true });
  await waitFor(() => early.bytes.multicast >= SIZE / 2, 'half the content multicast', 20_000);
  // A discovery window longer than the representative's 1 s keep-alive, as the defaults have (2.5 s).
  const late = await startDevice(taskId, 'dev-late', lanKey, ids, { settings, servePeers: true, election: { ...ELECTION, discoveryWindowMs: 1_500 } });
  const [, , lateResult] = await Promise.all([rep.result, early.result, late.result]);
  assert.equal(lateResult.outcome.role, 'follower');
  for (const d of [rep, early, late]) await assertVerifiedCopy(d);
  const lan = late.download.activity();
  console.log(`[measure] late joiner: multicast ${late.bytes.multicast}, peer ${late.bytes.peer} (${lan.repairs} blocks), origin ${late.bytes.origin}`);
  assert.equal(late.bytes.origin, 0, 'nothing from the origin');
  assert.ok(lan.repairs > 0 && lan.repairs < blockCount(SIZE, BLOCK_SIZE), `blocks repaired from a peer: ${lan.repairs}`);
  assert.equal(late.bytes.peer, lan.repairs * BLOCK_SIZE, 'exactly the blocks it missed came from the peer');
  assert.equal(early.bytes.origin + early.bytes.peer, 0);
  // Start delay 0: the session started before anyone joined it, which is no issue.
  assert.notEqual(rep.download.activity().sessionStartedAt, null);
  assert.equal(rep.download.activity().issue, null);
});

test('LAN download: a representative that meets a better one steps down, stops sending and follows it', async (t) => {
  if (!multicastWorks) return t.skip('loopback refuses multicast on this host');
  const taskId = 'task-lan-step-down';
  const lanKey = generateLanKey();
  const ids = ['dev-sd-weak', 'dev-sd-strong'];
  // The weak one waits for the strong one's JOIN (30 s delay): it is representative, not yet sending.
  const settings = { sessionStartDelaySeconds: 30 };
  const weak = await startDevice(taskId, ids[0]!, lanKey, ids, { weight: 1, settings });
  await waitFor(() => weak.download.activity().role === 'representative', 'the weak device representing', 5_000);
  // No discovery or claim window: the strong device claims before it hears the weak one's keep-alive,
  // so two representatives meet, as after a lost CLAIM or a healed partition.
  const strong = await startDevice(taskId, ids[1]!, lanKey, ids, { weight: 200, settings, election: { ...ELECTION, discoveryWindowMs: 0, claimWindowMs: 0 } });
  const [weakResult, strongResult] = await Promise.all([weak.result, strong.result]);
  for (const d of [weak, strong]) await assertVerifiedCopy(d);
  const weakLan = weak.download.activity();
  const strongLan = strong.download.activity();
  console.log(`[measure] step-down: weak first ${weakResult.outcome.role}, now ${weakLan.role} (LAN sent ${weakLan.lanBytesSent}); strong ${strongLan.role} (LAN sent ${strongLan.lanBytesSent})`);
  assert.equal(weakResult.outcome.role, 'representative');
  assert.equal(strongResult.outcome.role, 'representative');
  assert.equal(weakLan.role, 'receiver', 'the weak representative stepped down and followed');
  assert.equal(weakLan.sessionStartedAt, null, 'it never started its multicast');
  assert.ok(weakLan.lanBytesSent < BLOCK_SIZE, `only keep-alives left the weak device: ${weakLan.lanBytesSent}`);
  assert.equal(strongLan.role, 'representative');
  assert.notEqual(strongLan.sessionStartedAt, null, 'the winner started once the weak device joined it');
});

test('LAN download: a device that already holds the content wins the election and multicasts it; nothing crosses the WAN', async (t) => {
  if (!multicastWorks) return t.skip('loopback refuses multicast on this host');
  const taskId = 'task-lan-holder';
  const lanKey = generateLanKey();
  const ids = ['dev-h-1', 'dev-h-holder', 'dev-h-3'];
  const servedBefore = origin.bytesServed();
  // Same weight for all: the holder ranks first by blocks held.
  const holderDir = await filledCacheDir('dev-h-holder');
  const devices = await Promise.all(ids.map((id) => startDevice(taskId, id, lanKey, ids, { cacheDir: id === 'dev-h-holder' ? holderDir : undefined })));
  const results = await Promise.all(devices.map((d) => d.result));
  for (const d of devices) await assertVerifiedCopy(d);
  const holder = devices[1]!;
  const served = origin.bytesServed() - servedBefore;
  console.log(`[measure] holder: ${devices.map((d, i) => `${d.id} ${results[i]!.outcome.role}: origin ${d.bytes.origin}, multicast ${d.bytes.multicast}, LAN sent ${d.download.activity().lanBytesSent}`).join('; ')}`);
  assert.equal(results[1]!.outcome.role, 'representative', 'the device holding every block was elected');
  assert.equal(served, 0, 'nothing from the origin');
  assert.ok(holder.download.activity().lanBytesSent >= SIZE, `the holder multicast the content: ${holder.download.activity().lanBytesSent}`);
  for (const d of [devices[0]!, devices[2]!]) assert.ok(d.bytes.multicast >= SIZE, `${d.id}: multicast ${d.bytes.multicast}`);
  for (const d of devices) assert.equal(d.download.activity().issue, null);
});

test('LAN download: nobody joins within the start delay: no multicast, the device downloads from the origin and reports LAN.NOBODY_JOINED', async (t) => {
  if (!multicastWorks) return t.skip('loopback refuses multicast on this host');
  // The other target never takes part, as on a subnet whose switch drops multicast.
  const device = await startDevice('task-lan-unheard', 'dev-unheard', generateLanKey(), ['dev-unheard', 'dev-never-seen'], { settings: { sessionStartDelaySeconds: 1 } });
  const result = await device.result;
  await assertVerifiedCopy(device);
  const lan = device.download.activity();
  console.log(`[measure] nobody joined: role ${lan.role}, origin ${device.bytes.origin}, LAN sent ${lan.lanBytesSent}, issue ${JSON.stringify(lan.issue)}`);
  assert.equal(result.outcome.role, 'representative');
  assert.equal(device.bytes.origin, SIZE);
  assert.equal(lan.sessionStartedAt, null, 'no multicast started');
  assert.ok(lan.lanBytesSent < BLOCK_SIZE, `only announcements left the device: ${lan.lanBytesSent}`);
  assert.equal(lan.issue?.code, 'LAN.NOBODY_JOINED');
  assert.match(lan.issue?.message ?? '', /1 other target device/);
});

test('LAN download: the only target of a known subnet, holding the content, neither waits the start delay nor multicasts', async (t) => {
  if (!multicastWorks) return t.skip('loopback refuses multicast on this host');
  const started = performance.now();
  // A 30 s start delay (taskOf): finishing well before it means nobody was waited for.
  const device = await startDevice('task-lan-lone-holder', 'dev-lone-holder', generateLanKey(), ['dev-lone-holder'], { cached: true });
  const result = await device.result;
  const seconds = (performance.now() - started) / 1000;
  const lan = device.download.activity();
  assert.equal(result.outcome.role, 'representative');
  assert.equal(result.alreadyCached, true);
  assert.ok(seconds < 10, `done in ${seconds.toFixed(1)} s`);
  assert.equal(lan.sessionStartedAt, null);
  assert.ok(lan.lanBytesSent < BLOCK_SIZE, `LAN sent ${lan.lanBytesSent}`);
  assert.equal(lan.issue, null, 'no issue: there was nobody to reach');
  assert.equal(device.bytes.origin + device.bytes.multicast + device.bytes.peer, 0);
});

test('LAN download: a follower restarted mid-multicast rejoins the session and keeps what it had; nothing from the origin', async (t) => {
  if (!multicastWorks) return t.skip('loopback refuses multicast on this host');
  const taskId = 'task-lan-restart';
  const lanKey = generateLanKey();
  const ids = ['dev-rs-rep', 'dev-rs-steady', 'dev-rs-restarted'];
  // 4 Mbit/s: ~4 s of multicast, so a restart in the middle is easy to place.
  const settings = { lanRateLimitKbps: 4_000, sessionStartDelaySeconds: 30 };
  const rep = await startDevice(taskId, ids[0]!, lanKey, ids, { weight: 200, settings, servePeers: true });
  const steady = await startDevice(taskId, ids[1]!, lanKey, ids, { settings, servePeers: true });
  const first = await startDevice(taskId, ids[2]!, lanKey, ids, { settings, servePeers: true });
  await waitFor(() => first.bytes.multicast >= SIZE / 3, 'a third of the content multicast', 20_000);
  // The agent stops (its task aborted, as on SIGTERM) and starts again on the same cache folder.
  first.abort.abort();
  await assert.rejects(first.result, (e: unknown) => (e as { code?: string }).code === 'DOWNLOAD.ABORTED');
  // A block whose write was under way at the abort still lands: what is kept is what the disk holds once writes stop.
  const heldNow = async () => (await first.cache.heldBlocks(content.manifest.contentId, BLOCK_SIZE))?.blocks.length ?? 0;
  let kept = await heldNow();
  for (let settled = false; !settled; ) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const next = await heldNow();
    settled = next === kept;
    kept = next;
  }
  const again = await startDevice(taskId, ids[2]!, lanKey, ids, { settings, servePeers: true, cacheDir: first.cacheDir, election: { ...ELECTION, discoveryWindowMs: 1_500 } });
  const [, , result] = await Promise.all([rep.result, steady.result, again.result]);
  for (const d of [rep, steady, again]) await assertVerifiedCopy(d);
  const blocks = blockCount(SIZE, BLOCK_SIZE);
  console.log(
    `[measure] restart: held ${kept} of ${blocks} blocks at the restart; after it: multicast ${again.bytes.multicast}, peer ${again.bytes.peer}, origin ${again.bytes.origin}, blocks fetched ${result.blocksFetched}`,
  );
  assert.equal(result.outcome.role, 'follower', 'it rejoined the running session');
  assert.ok(kept > 0 && kept < blocks, `blocks kept across the restart: ${kept}`);
  assert.equal(result.blocksFetched, blocks - kept, 'only the blocks it lacked were fetched after the restart');
  assert.equal(again.bytes.origin, 0, 'nothing from the origin');
  assert.equal(steady.bytes.origin, 0);
});

test('LAN download: a holder with start delay 0 waits for the followers its ANNOUNCE draws, then multicasts to them', async (t) => {
  if (!multicastWorks) return t.skip('loopback refuses multicast on this host');
  const taskId = 'task-lan-holder-now';
  const lanKey = generateLanKey();
  const ids = ['dev-hn-holder', 'dev-hn-2', 'dev-hn-3'];
  const settings = { sessionStartDelaySeconds: 0 };
  const servedBefore = origin.bytesServed();
  const holderDir = await filledCacheDir('dev-hn-holder');
  const devices = await Promise.all(ids.map((id, i) => startDevice(taskId, id, lanKey, ids, { settings, cacheDir: i === 0 ? holderDir : undefined })));
  const results = await Promise.all(devices.map((d) => d.result));
  for (const d of devices) await assertVerifiedCopy(d);
  const [holder, ...followers] = devices;
  assert.equal(results[0]!.outcome.role, 'representative');
  assert.equal(origin.bytesServed() - servedBefore, 0, 'nothing from the origin');
  for (const d of followers) assert.ok(d.bytes.multicast >= SIZE, `${d.id}: multicast ${d.bytes.multicast}`);
  assert.notEqual(holder!.download.activity().sessionStartedAt, null);
  assert.equal(holder!.download.activity().issue, null);
});

test('LAN download: a holder that loses the election by weight serves the representative as a peer; nothing crosses the WAN and nothing is multicast to nobody', async (t) => {
  if (!multicastWorks) return t.skip('loopback refuses multicast on this host');
  const taskId = 'task-lan-light-holder';
  const lanKey = generateLanKey();
  const ids = ['dev-lh-heavy', 'dev-lh-holder'];
  const servedBefore = origin.bytesServed();
  const heavy = await startDevice(taskId, ids[0]!, lanKey, ids, { weight: 200, servePeers: true });
  const holder = await startDevice(taskId, ids[1]!, lanKey, ids, { weight: 1, servePeers: true, cached: true });
  const [heavyResult, holderResult] = await Promise.all([heavy.result, holder.result]);
  for (const d of [heavy, holder]) await assertVerifiedCopy(d);
  const lan = heavy.download.activity();
  console.log(`[measure] light holder: representative origin ${heavy.bytes.origin}, peer ${heavy.bytes.peer}, LAN sent ${lan.lanBytesSent}; holder ${holderResult.outcome.role}`);
  assert.equal(heavyResult.outcome.role, 'representative');
  assert.equal(holderResult.outcome.role, 'follower');
  assert.equal(origin.bytesServed() - servedBefore, 0, 'nothing from the origin');
  assert.equal(heavy.bytes.peer, SIZE, 'the representative took the package from the holder');
  assert.equal(lan.sessionStartedAt, null, 'no multicast: the only other device holds everything');
  assert.ok(lan.lanBytesSent < BLOCK_SIZE, `LAN sent ${lan.lanBytesSent}`);
  assert.equal(lan.issue, null);
});

test('LAN download: multicast blocked: a device that hears nobody asks the peers the control plane names, before the origin', async (t) => {
  if (!multicastWorks) return t.skip('loopback refuses multicast on this host');
  // One peer holds the package and serves it on 127.0.0.2; the other (127.0.0.3, same port) is down.
  const { dir, remove } = await tempDir('lan-named-peer');
  cleanups.push(remove);
  const holderCache = await ContentCache.open(dir);
  await fillCache(holderCache, content);
  const server = await PeerBlockServer.start({ cache: holderCache, host: '127.0.0.2', port: 0, blockSize: BLOCK_SIZE });
  cleanups.push(() => server.close());
  const servedBefore = origin.bytesServed();
  const device = await startDevice('task-lan-named-peers', 'dev-deaf', generateLanKey(), ['dev-deaf', 'dev-np-holder', 'dev-np-down'], {
    deaf: true,
    settings: { sessionStartDelaySeconds: 1 },
    subnetPeers: [
      { deviceId: 'dev-np-holder', address: '127.0.0.2' },
      { deviceId: 'dev-np-down', address: '127.0.0.3' },
    ],
    subnetPeerPort: server.port,
  });
  const result = await device.result;
  await assertVerifiedCopy(device);
  const lan = device.download.activity();
  console.log(`[measure] blocked multicast, named peers: role ${result.outcome.role}, peer ${device.bytes.peer}, origin ${device.bytes.origin}, issue ${lan.issue?.code}`);
  assert.equal(result.outcome.role, 'representative', 'it heard nobody, so it represents itself');
  assert.equal(device.bytes.peer, SIZE, 'the whole package from the named peer');
  assert.equal(origin.bytesServed() - servedBefore, 0, 'nothing from the origin');
  assert.equal(lan.issue?.code, 'LAN.NOBODY_JOINED', 'and it says the multicast reached nobody');
});

/** The control plane of the claim tests: its signing key, pinned by every device. */
const controlPlaneKey = generateSigningKey();
const pinnedControlPlane = { keys: [{ keyId: controlPlaneKey.keyId, publicKeyDer: Buffer.from(publicKeyDerOf(controlPlaneKey.publicKey)).toString('base64') }], retiredKeyIds: [] };

/** A device's claims as the daemon makes them: a key of its own, and the ticket the control plane signs for it (or none). */
function claimsOf(taskId: string, deviceId: string, options: { ticket?: boolean; ticketTaskId?: string } = {}): SessionClaims {
  const key = new LanClaimKey();
  if (options.ticket === false) return key.sessionClaims(taskId, undefined, pinnedControlPlane);
  const notAfter = Math.floor(Date.now() / 1000) + 3600;
  const devicePublicKey = new Uint8Array(Buffer.from(key.publicKey, 'base64'));
  const signature = signLanTicket({ taskId: options.ticketTaskId ?? taskId, senderId: senderIdOf(deviceId), devicePublicKey, notAfter }, controlPlaneKey.privateKey);
  return key.sessionClaims(taskId, { keyId: controlPlaneKey.keyId, notAfter, signature: Buffer.from(signature).toString('base64') }, pinnedControlPlane);
}

/**
 * A device of the task that leads nothing: it joins the session with the LAN key and announces
 * itself as representative with the highest weight every `everyMs`, and sends no data.
 */
async function announceForever(taskId: string, deviceId: string, lanKey: Uint8Array, claims: SessionClaims | undefined, everyMs: number): Promise<() => void> {
  const socket = await openSocket();
  const binding = socket.join(sessionIdOf(taskId), lanKey, { onPacket: () => undefined, localSenderId: senderIdOf(deviceId) }, claims);
  let seq = 0;
  const announce = (): AnnouncePacket => ({
    type: 'announce',
    sessionId: sessionIdOf(taskId),
    senderId: senderIdOf(deviceId),
    seq: seq++,
    phase: 'sending',
    weight: 255,
    contentId: content.manifest.contentId,
    size: SIZE,
    blockSize: BLOCK_SIZE,
    symbolSize: 1400,
    groupDataSymbols: 128,
    proactiveParity: 0,
    startDelayMs: 0,
    rateKbps: 0,
    blocksReady: blockCount(SIZE, BLOCK_SIZE),
    sendingBlock: 0,
  });
  binding.send(announce());
  const timer = setInterval(() => binding.send(announce()), everyMs);
  const stop = () => {
    clearInterval(timer);
    binding.leave();
  };
  cleanups.push(async () => stop());
  return stop;
}

test('LAN download with claims: ANNOUNCEs of a device of the task without a ticket, or with one for another task, are dropped; the genuine devices elect one of themselves', async (t) => {
  if (!multicastWorks) return t.skip('loopback refuses multicast on this host');
  const taskId = 'task-lan-forged-claims';
  const lanKey = generateLanKey();
  const ids = ['claim-a', 'claim-b'];
  const servedBefore = origin.bytesServed();
  // Both announce at the top weight before the genuine devices start: without claim checks they would follow one.
  const stopUnsigned = await announceForever(taskId, 'forger-1', lanKey, undefined, 200);
  const stopBorrowed = await announceForever(taskId, 'forger-2', lanKey, claimsOf(taskId, 'forger-2', { ticketTaskId: 'another-task' }), 200);
  const devices = await Promise.all(ids.map((id) => startDevice(taskId, id, lanKey, ids, { claims: claimsOf(taskId, id), followStallMs: 5_000 })));
  const results = await Promise.all(devices.map((d) => d.result));
  stopUnsigned();
  stopBorrowed();
  for (const d of devices) await assertVerifiedCopy(d);
  const roles = results.map((r) => r.outcome.role).sort();
  assert.deepEqual(roles, ['follower', 'representative'], `roles ${roles.join(', ')}`);
  assert.equal(origin.bytesServed() - servedBefore, SIZE, 'the content crossed the WAN once');
  for (const d of devices) {
    const activity = d.download.activity();
    assert.equal(activity.issue, null, `${d.id}: ${activity.issue?.message}`);
    assert.ok(activity.invalidPackets > 0, `${d.id}: the forged ANNOUNCEs are counted (${activity.invalidPackets})`);
  }
});

test('LAN download with claims: a device without a ticket never leads; the one with a ticket does', async (t) => {
  if (!multicastWorks) return t.skip('loopback refuses multicast on this host');
  const taskId = 'task-lan-no-ticket';
  const lanKey = generateLanKey();
  const ids = ['ticketless', 'ticketed'];
  // The ticketless device has the higher weight: it would win the election if it could claim.
  const ticketless = await startDevice(taskId, 'ticketless', lanKey, ids, { weight: 200, claims: claimsOf(taskId, 'ticketless', { ticket: false }) });
  const ticketed = await startDevice(taskId, 'ticketed', lanKey, ids, { weight: 1, claims: claimsOf(taskId, 'ticketed') });
  const [a, b] = await Promise.all([ticketless.result, ticketed.result]);
  assert.equal(b.outcome.role, 'representative');
  assert.deepEqual(a.outcome, { role: 'follower', representativeId: senderIdOf('ticketed') });
  assert.equal(ticketless.bytes.origin, 0, 'the ticketless device got the multicast');
  await assertVerifiedCopy(ticketless);
});

test('LAN download with claims: a target with a genuine ticket that announces and sends nothing is abandoned at the deadline and named in LAN.SESSION_DEADLINE', async (t) => {
  if (!multicastWorks) return t.skip('loopback refuses multicast on this host');
  const taskId = 'task-lan-hostage';
  const lanKey = generateLanKey();
  const ids = ['hostage-a', 'hostage-b', 'hostage-taker'];
  const stop = await announceForever(taskId, 'hostage-taker', lanKey, claimsOf(taskId, 'hostage-taker'), 300);
  const started = performance.now();
  const devices = await Promise.all(
    ['hostage-a', 'hostage-b'].map((id) => startDevice(taskId, id, lanKey, ids, { claims: claimsOf(taskId, id), settings: { sessionStartDelaySeconds: 1 }, followStallMs: 1_000 })),
  );
  const results = await Promise.all(devices.map((d) => d.result));
  const seconds = (performance.now() - started) / 1000;
  stop();
  for (const [i, d] of devices.entries()) {
    await assertVerifiedCopy(d);
    assert.deepEqual(results[i]!.outcome, { role: 'follower', representativeId: senderIdOf('hostage-taker') }, 'its claim holds: it is a target');
    const issue = d.download.activity().issue;
    assert.equal(issue?.code, 'LAN.SESSION_DEADLINE', `${d.id}: ${issue?.message}`);
    assert.match(issue!.message, /representative hostage-taker delivered 0 verified block\(s\)/);
    assert.equal(d.bytes.multicast, 0);
    assert.equal(d.bytes.origin + d.bytes.peer, SIZE, `${d.id}: the rest came from peers or the origin`);
  }
  console.log(`[measure] hostage session abandoned, both devices complete in ${seconds.toFixed(2)} s (start delay 1 s, stall allowance 1 s)`);
  assert.ok(seconds < 15, `abandoned in ${seconds.toFixed(1)} s`);
});
