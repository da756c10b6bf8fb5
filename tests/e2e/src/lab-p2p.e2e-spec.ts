import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { placeLabDevices, runLabDistribution, startLabDistribution, waitFor, type LabOfficeType, type LabReport, type LabSpec, type LabStack } from '@fleetcast/testing';
import { assertVerifiedCopies, useLabFixture } from './support/lab-fixture';

/**
 * Peer-to-peer across offices on a real network (docs/p2p.md): a central office (the core network,
 * where the origin is) and two branches behind 20 Mbit/s WAN links, six devices each. The task
 * allows peer downloads and no multicast, so every device takes part in its office's swarm: one
 * device per branch holds the upstream lease and brings the package across the WAN link, the others
 * fetch it from their peers as it arrives.
 */
const MIB = 1024 * 1024;
const DEVICES_PER_BRANCH = 6;
const WAN_RATE_MBIT = 20;
/** By the origin's count (and the parent office's, which has no devices here): one copy per branch, and a retried range at most. */
const MAX_ORIGIN_RATIO = 1.02;
/** One copy in Ethernet frames (66 header bytes per 1448-byte TCP segment, 4.6 %), plus the NATS traffic of six agents. */
const MAX_WAN_RATIO = 1.08;
const PROFILE = { useMulticast: false, peerDownloadAllowed: true };
/** The devices of each branch get the task in three waves, this far apart (two devices a wave). */
const WAVE_GAP_MS = 5_000;
const WAVES = 3;
/** 24 MiB at 20 Mbit/s is 10 s of WAN per branch; waves, agent starts and a loaded 2-core machine stay well inside this. */
const TASK_TIMEOUT_MS = 150_000;
const PEER_PORT = 47_471;

const spec = (name: string): LabSpec => ({
  name,
  core: { subnet: '10.230.0.0/24' },
  branches: ['east', 'west'].map((branch, i) => ({ name: branch, subnet: `10.231.${i + 1}.0/24`, devices: DEVICES_PER_BRANCH, wan: { rateMbit: WAN_RATE_MBIT } })),
});

/** Uploads the lab's topology (branches of the given types) and waits until every agent has read its office from it. */
async function placeDevices(t: TestContext, stack: LabStack, types: Record<string, LabOfficeType> = {}): Promise<void> {
  const version = await placeLabDevices(stack, types);
  t.diagnostic(`topology version ${version} read by every agent (${JSON.stringify(types)})`);
}

/** The agent's JSON log lines with this message, parsed. */
async function logLines(logFile: string, message: string): Promise<Array<Record<string, unknown>>> {
  const quoted = JSON.stringify(message);
  return (await readFile(logFile, 'utf8'))
    .split('\n')
    .filter((l) => l.includes(quoted))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.msg === message);
}

function printReport(t: TestContext, report: LabReport): void {
  for (const s of report.subnets) {
    const mine = report.devices.filter((d) => d.branch === s.branch);
    const bytes = (source: 'parent' | 'peer') => mine.reduce((n, d) => n + (d.bytes[source] ?? 0), 0);
    t.diagnostic(
      `${s.branch}: origin ${s.originRatio.toFixed(4)}x, WAN ${s.wanRatio.toFixed(4)}x, done ${s.done}/${s.devices}; ` +
        `from the parent office ${(bytes('parent') / MIB).toFixed(2)} MiB, from peers ${(bytes('peer') / MIB).toFixed(2)} MiB`,
    );
  }
}

describe('lab p2p: once per WAN link, a swarm inside each office', () => {
  const fixture = useLabFixture({ tag: 'pp', database: 'lab_p2p', spec, untested: 'the office swarm is not tested on a real network' });

  test('24 MiB to 2 branches x 6 devices in 3 waves: verified copies, each WAN link carries the package once, later waves faster', { timeout: 240_000 }, async (t) => {
    const stack = fixture.stackFor(t);
    if (!stack) return;
    await placeDevices(t, stack);
    // Waves 2 and 3 are offline when the task is created and come online WAVE_GAP_MS apart.
    const waveOf = (deviceId: string) => Math.floor((Number(deviceId.split('-')[1]) - 1) / (DEVICES_PER_BRANCH / WAVES));
    const later = stack.agents.filter((a) => waveOf(a.deviceId) > 0);
    await Promise.all(later.map((a) => a.process.stop()));
    const run = await startLabDistribution({ stack, packageBytes: 24 * MIB, action: 'cache-only', profile: PROFILE, timeoutMs: TASK_TIMEOUT_MS, print: (l) => t.diagnostic(l) });
    // When each wave's agents were up, in seconds after the task's creation (starting agents takes seconds on a loaded machine).
    const onlineAt = [0];
    for (let wave = 1; wave < WAVES; wave++) {
      await new Promise((resolve) => setTimeout(resolve, WAVE_GAP_MS));
      await Promise.all(later.filter((a) => waveOf(a.deviceId) === wave).map((a) => stack.startAgent(a.deviceId)));
      onlineAt.push((Date.now() - run.startedAt) / 1000);
      t.diagnostic(`wave ${wave + 1} online ${onlineAt[wave]!.toFixed(1)} s after the task was created`);
    }
    const report = await run.finish();
    printReport(t, report);

    for (const device of report.devices) assert.equal(device.state, 'succeeded', `${device.deviceId}: ${device.reason ?? device.state}`);
    await assertVerifiedCopies(stack.agents, report.contentId);
    for (const subnet of report.subnets) {
      assert.ok(subnet.originRatio <= MAX_ORIGIN_RATIO, `${subnet.branch}: the origin served ${subnet.originRatio.toFixed(4)}x the package, at most ${MAX_ORIGIN_RATIO}x`);
      assert.ok(subnet.wanRatio <= MAX_WAN_RATIO, `${subnet.branch}: the WAN link carried ${subnet.wanRatio.toFixed(4)}x the package toward the branch, at most ${MAX_WAN_RATIO}x`);
      const mine = report.devices.filter((d) => d.branch === subnet.branch);
      // Most of the branch's bytes came from peers: every device but the upstream fetcher took (nearly) all from them.
      const fromPeers = mine.reduce((n, d) => n + d.bytes.peer, 0);
      assert.ok(fromPeers >= (DEVICES_PER_BRANCH - 1) * report.packageBytes * 0.95, `${subnet.branch}: ${fromPeers} bytes from peers`);
    }
    // Each wave's time from coming online to its last device done: later waves find complete peers.
    const waveSeconds = [...Array(WAVES).keys()].map((wave) =>
      Math.max(...report.devices.filter((d) => waveOf(d.deviceId) === wave).map((d) => (d.seconds ?? Infinity) - onlineAt[wave]!)),
    );
    t.diagnostic(`per wave, online to last done: ${waveSeconds.map((s) => `${s.toFixed(1)} s`).join(', ')}`);
    for (let wave = 1; wave < WAVES; wave++) assert.ok(waveSeconds[wave]! < waveSeconds[0]!, `wave ${wave + 1} took ${waveSeconds[wave]!.toFixed(1)} s, the first ${waveSeconds[0]!.toFixed(1)} s`);
  });

  test('a peer that serves corrupted blocks is detected and dropped; no corrupt copy anywhere', { timeout: 180_000 }, async (t) => {
    const stack = fixture.stackFor(t);
    if (!stack) return;
    const east = stack.agents.filter((a) => a.branch === 'east');
    const [first, ...others] = east;
    // The first device gets the package alone, and so stands in the office's view as a complete holder.
    await Promise.all(others.map((a) => a.process.stop()));
    const run = await startLabDistribution({ stack, packageBytes: 8 * MIB, action: 'cache-only', profile: PROFILE, timeoutMs: TASK_TIMEOUT_MS, seed: 'p2p-corrupt', print: (l) => t.diagnostic(l) });
    await waitFor(async () => (await logLines(first!.logFile, 'swarm download complete')).some((l) => l.taskId === run.taskId), {
      timeoutMs: 90_000,
      intervalMs: 500,
      description: `${first!.deviceId} completes`,
    });
    // Then it turns hostile: its agent is gone and a server on its address and port answers every block with garbage.
    await first!.process.stop();
    const liar = await startLiar(first!.ns, first!.address, PEER_PORT);
    try {
      await Promise.all(others.map((a) => stack.startAgent(a.deviceId)));
      const report = await run.finish({ exclude: [first!.deviceId] });
      printReport(t, report);
      for (const device of report.devices.filter((d) => d.deviceId !== first!.deviceId)) assert.equal(device.state, 'succeeded', `${device.deviceId}: ${device.reason ?? device.state}`);
      await assertVerifiedCopies(others, report.contentId);
      assert.ok(liar.blocksServed() > 0, 'the hostile peer was asked for blocks');
      const dropped = (await Promise.all(others.map((a) => logLines(a.logFile, 'a peer sent blocks that do not match the manifest: dropped for this content')))).flat();
      assert.ok(dropped.length > 0 && dropped.every((l) => String(l.peer).includes(first!.address)), `dropped: ${JSON.stringify(dropped.map((l) => l.peer))}`);
      t.diagnostic(`${dropped.length} device(s) dropped the hostile peer; it served ${liar.blocksServed()} corrupt blocks`);
    } finally {
      await liar.stop();
      await stack.startAgent(first!.deviceId);
    }
  });

  test('a peer that vanishes mid-transfer: the others finish from the remaining peers', { timeout: 180_000 }, async (t) => {
    const stack = fixture.stackFor(t);
    if (!stack) return;
    const west = stack.agents.filter((a) => a.branch === 'west');
    const run = await startLabDistribution({ stack, packageBytes: 32 * MIB, action: 'cache-only', profile: PROFILE, timeoutMs: TASK_TIMEOUT_MS, seed: 'p2p-vanish', print: (l) => t.diagnostic(l) });
    // Once a west device other than the upstream fetcher serves blocks, it is killed outright.
    let victim: (typeof west)[number] | undefined;
    await waitFor(
      async () => {
        for (const agent of west) {
          const text = await readFile(agent.logFile, 'utf8');
          if (!text.includes(run.taskId)) continue;
          const devices = await stack.api.ok<{ items: Array<{ deviceId: string; bytes: { peer: number } }> }>('GET', `/v1/tasks/${run.taskId}/devices?limit=1000`);
          const serving = devices.items.find((d) => d.deviceId === agent.deviceId && d.bytes.peer >= MIB);
          if (serving) {
            victim = agent;
            return true;
          }
        }
        return false;
      },
      { timeoutMs: 90_000, intervalMs: 300, description: 'a west device that holds blocks from peers' },
    );
    await victim!.process.kill();
    t.diagnostic(`${victim!.deviceId} killed mid-transfer`);
    const report = await run.finish({ exclude: [victim!.deviceId] });
    for (const device of report.devices.filter((d) => d.deviceId !== victim!.deviceId)) assert.equal(device.state, 'succeeded', `${device.deviceId}: ${device.reason ?? device.state}`);
    await assertVerifiedCopies(stack.agents.filter((a) => a !== victim), report.contentId);
    // Back online, the victim resumes and completes too.
    await stack.startAgent(victim!.deviceId);
    await waitFor(async () => (await logLines(victim!.logFile, 'swarm download complete')).some((l) => l.taskId === run.taskId), {
      timeoutMs: 90_000,
      intervalMs: 500,
      description: `${victim!.deviceId} resumes and completes`,
    });
    await assertVerifiedCopies([victim!], report.contentId);
  });

  test('a vpn office: its devices never serve or fetch from peers', { timeout: 180_000 }, async (t) => {
    const stack = fixture.stackFor(t);
    if (!stack) return;
    await placeDevices(t, stack, { west: 'vpn' });
    const report = await runLabDistribution({ stack, packageBytes: 4 * MIB, action: 'cache-only', profile: PROFILE, timeoutMs: TASK_TIMEOUT_MS, seed: 'p2p-vpn', print: (l) => t.diagnostic(l) });
    printReport(t, report);
    for (const device of report.devices) assert.equal(device.state, 'succeeded', `${device.deviceId}: ${device.reason ?? device.state}`);
    const west = report.devices.filter((d) => d.branch === 'west');
    for (const device of west) {
      assert.equal(device.bytes.peer, 0, `${device.deviceId} fetched from peers`);
      assert.ok(device.originServed >= report.packageBytes, `${device.deviceId}: the origin served it ${device.originServed} bytes`);
    }
    for (const agent of stack.agents.filter((a) => a.branch === 'west')) {
      const chosen = (await logLines(agent.logFile, 'transport chosen')).filter((l) => l.taskId === report.taskId);
      assert.deepEqual(chosen.map((l) => l.transport), ['origin'], agent.deviceId);
      assert.match(String(chosen[0]!.reason), /vpn office/);
    }
    // The east branch still shares: its WAN link carried the package about once.
    const east = report.subnets.find((s) => s.branch === 'east')!;
    assert.ok(east.originRatio <= MAX_ORIGIN_RATIO, `east: ${east.originRatio}`);
    // A vpn device's block server refuses even a device of its own office.
    const refused = await peerStatusFrom(stack, 'west-2', 'west-1', report.contentId);
    assert.ok(refused === 401 || refused === 403, `a vpn device answered ${refused}`);
  });

  fixture.teardownTest();
});

/** The HTTP status a request from one device's namespace to another device's block server gets (no pass shown). */
async function peerStatusFrom(stack: LabStack, fromDevice: string, toDevice: string, contentId: string): Promise<number> {
  const from = stack.agent(fromDevice);
  const to = stack.agent(toDevice);
  const script = `fetch('http://${to.address}:${PEER_PORT}/v1/blocks/${contentId}').then(r => { console.log(r.status); }, e => { console.log('error ' + e.message); })`;
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', from.ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(text.trim()));
  });
  return Number(out);
}

/**
 * A hostile peer in a device's namespace: claims to hold everything, answers every block with
 * bytes of the right length that match nothing. Runs as a child process (the namespace is the child's).
 */
async function startLiar(ns: string, address: string, port: number): Promise<{ blocksServed(): number; stop(): Promise<void> }> {
  const script = `
    const http = require('node:http');
    let served = 0;
    http.createServer((req, res) => {
      const parts = new URL(req.url, 'http://x').pathname.split('/');
      const size = Number(new URL(req.url, 'http://x').searchParams.get('blockSize') || 1048576);
      if (parts.length === 4) {
        const body = JSON.stringify({ contentId: parts[3], size: 8 * 1048576, blockSize: size, blockCount: 8, complete: true, ranges: [{ first: 0, count: 8 }], truncated: false });
        res.writeHead(200, { 'content-type': 'application/json' }).end(body);
        return;
      }
      served += 1;
      console.log('served ' + served);
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(size, 0x5a));
    }).listen(${port}, '${address}', () => console.log('listening'));
  `;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let served = 0;
  let listening: () => void;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  child.stdout.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) {
      if (line === 'listening') listening();
      const m = /^served (\d+)$/.exec(line);
      if (m) served = Number(m[1]);
    }
  });
  await Promise.race([ready, new Promise((_, reject) => setTimeout(() => reject(new Error('the hostile peer did not start')), 10_000))]);
  return {
    blocksServed: () => served,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('close', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
