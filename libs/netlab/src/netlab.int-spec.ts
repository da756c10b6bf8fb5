import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLab, type Lab } from './create-lab';
import { labAvailable, type LabAvailability } from './lab-availability';
import { destroyLab, listLabResources } from './lab-cleanup';
import { runCommand } from './command-runner';
import type { LabSpec } from './lab-plan';

/**
 * Lab names carry this process's pid (base 36, to fit the 8-character limit) and a letter per
 * purpose, so that two runs on one machine never remove each other's labs, and a run can still
 * recognise the leftovers of a dead one.
 */
const RUN = `nt${process.pid.toString(36)}`;
const MAIN = `${RUN}m`;
const THROWS = `${RUN}t`;
const SIGNALLED = `${RUN}s`;
const KILLED = `${RUN}k`;
const STALE_LAB = /^(nt([0-9a-z]+)[mtsk])-/;

/** Ranges unused on the machines this runs on; the lab's namespaces are not connected to the host anyway. */
const CORE_SUBNET = '10.209.0.0/24';
const BRANCH_A_SUBNET = '10.210.1.0/24';
const BRANCH_B_SUBNET = '10.210.2.0/24';
/** A WAN slow enough that a 4 MiB transfer takes seconds, so the shaping is measurable against process start-up noise. */
const WAN_RATE_MBIT = 8;
/** Loss on branch b; 1,000 datagrams at 30 % give 700 +- 15 (one standard deviation), far inside the 55..85 % the test accepts. */
const LOSS_PERCENT = 30;
const GROUP = '239.255.70.1';
/** A documentation address (TEST-NET-2, RFC 5737) that stands for "anywhere outside the lab". */
const OUTSIDE_ADDRESS = '198.51.100.1';
const DOWNLOAD_BYTES = 4 * 1024 * 1024;
const UPLOAD_BYTES = 1024 * 1024;
/** About a second at the WAN rate: enough to see it cross the WAN counters, short for the run. */
const HOST_DOWNLOAD_BYTES = 1024 * 1024;
/**
 * A 1448-byte TCP segment travels in a 1514-byte frame (4.6 % more); counters that saw the stack's
 * offload bundles instead of frames would show about 1 %. 4 % tells the two apart.
 */
const MIN_FRAMED_RATIO = 1.04;
/** The transfer may beat the nominal time by the token bucket's initial burst and timing noise; 0.8 leaves room for both. */
const MIN_SHAPED_FRACTION = 0.8;
/** A transfer slower than 3x the nominal time means the shaper is wrong (or the queue too short for TCP), not just a busy CI machine. */
const MAX_SHAPED_FACTOR = 3;

const mainSpec: LabSpec = {
  name: MAIN,
  core: { subnet: CORE_SUBNET },
  branches: [
    { name: 'a', subnet: BRANCH_A_SUBNET, devices: 3, wan: { rateMbit: WAN_RATE_MBIT } },
    { name: 'b', subnet: BRANCH_B_SUBNET, devices: 3, wan: { rateMbit: WAN_RATE_MBIT }, lanLossPercent: LOSS_PERCENT, lossProto: 'udp' },
  ],
};

const smallSpec = (name: string): LabSpec => ({
  name,
  core: { subnet: CORE_SUBNET },
  // Loss on, so that the device namespace holds an nftables table the cleanup must remove too.
  branches: [{ name: 'x', subnet: BRANCH_A_SUBNET, devices: 1, wan: { rateMbit: 10 }, lanLossPercent: 5 }],
});

/** Programs run inside the namespaces; plain CommonJS so that `node <file>` runs them as they are. */
const SCRIPTS: Record<string, string> = {
  'mcast-receiver.js': `
    const dgram = require('node:dgram');
    const [group, port] = [process.argv[2], Number(process.argv[3])];
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    let received = 0;
    const senders = new Set();
    const finish = () => { process.stdout.write(JSON.stringify({ received, senders: [...senders] }) + '\\n'); process.exit(0); };
    socket.on('message', (msg, rinfo) => {
      const text = msg.toString();
      if (text === 'end') finish();
      else if (text.startsWith('data ')) { received += 1; senders.add(rinfo.address); }
    });
    process.on('SIGTERM', finish);
    socket.bind(port, () => { socket.addMembership(group); process.stdout.write('ready\\n'); });
  `,
  'mcast-sender.js': `
    const dgram = require('node:dgram');
    const { setTimeout: sleep } = require('node:timers/promises');
    const [group, port, count] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
    // Ten datagrams every 2 ms: far below what a receiver's socket buffer holds, so only the lab's loss drops any.
    const BATCH = 10;
    // The end marker crosses the same lossy LAN: 20 copies make all of them lost (0.3^20) impossible in practice.
    const END_COPIES = 20;
    const socket = dgram.createSocket('udp4');
    const send = (text) => new Promise((resolve, reject) => socket.send(text, port, group, (e) => (e ? reject(e) : resolve())));
    socket.bind(0, async () => {
      socket.setMulticastTTL(1);
      for (let i = 0; i < count; i++) { await send('data ' + i); if (i % BATCH === BATCH - 1) await sleep(2); }
      for (let i = 0; i < END_COPIES; i++) { await send('end'); await sleep(10); }
      socket.close();
      process.stdout.write(JSON.stringify({ sent: count }) + '\\n');
    });
  `,
  'http-server.js': `
    const http = require('node:http');
    const [host, port, size] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
    const body = Buffer.alloc(size, 7);
    http.createServer((req, res) => {
      if (req.method === 'GET') { res.writeHead(200, { 'content-length': size }); res.end(body); return; }
      let bytes = 0;
      req.on('data', (chunk) => { bytes += chunk.length; });
      req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify({ bytes })); });
    }).listen(port, host, function () { process.stdout.write('listening ' + this.address().port + '\\n'); });
  `,
  'http-client.js': `
    const http = require('node:http');
    const [method, url, size] = [process.argv[2], process.argv[3], Number(process.argv[4] || 0)];
    const started = process.hrtime.bigint();
    const done = (bytes) => process.stdout.write(JSON.stringify({ bytes, ms: Number(process.hrtime.bigint() - started) / 1e6 }) + '\\n');
    const req = http.request(url, { method }, (res) => {
      let bytes = 0;
      const chunks = [];
      res.on('data', (chunk) => { bytes += chunk.length; if (method === 'POST') chunks.push(chunk); });
      res.on('end', () => done(method === 'POST' ? JSON.parse(Buffer.concat(chunks)).bytes : bytes));
    });
    req.on('error', (e) => { process.stderr.write(String(e) + '\\n'); process.exit(1); });
    req.end(method === 'POST' ? Buffer.alloc(size, 7) : undefined);
  `,
  'crashing-run.js': `
    const { createLab } = require(process.argv[2]);
    const [mode, spec] = [process.argv[3], JSON.parse(process.argv[4])];
    createLab(spec).then((lab) => {
      if (mode === 'throw') setImmediate(() => { throw new Error('thrown midway through a test'); });
      if (mode === 'wait') { process.stdout.write('ready\\n'); setInterval(() => {}, 1000); }
      if (mode === 'orphan') {
        // A process inside the lab that outlives this one: what a crashed run leaves behind.
        const child = lab.spawn(lab.branches[0].devices[0].ns, process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
        process.stdout.write('ready ' + child.pid + '\\n');
        setInterval(() => {}, 1000);
      }
    });
  `,
};

let availability: LabAvailability = { ok: false, reason: 'not checked yet' };
/** ping is not part of the lab's own needs (iputils-ping is not on every machine); without it only the ping checks skip. */
let pingMissing: string | undefined;
let lab: Lab | undefined;
let scriptDir = '';
const started = new Set<ChildProcess>();

/** A running program whose stdout lines are kept, with a way to await one. */
interface Running {
  child: ChildProcess;
  lines: string[];
  stderr: () => string;
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function watch(child: ChildProcess, what: string): Running {
  started.add(child);
  const lines: string[] = [];
  let stderr = '';
  let pending = '';
  const waiters: Array<() => void> = [];
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const parts = pending.split('\n');
    pending = parts.pop()!;
    lines.push(...parts);
    for (const wake of waiters.splice(0)) wake();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      started.delete(child);
      resolve({ code, signal });
      for (const wake of waiters.splice(0)) wake();
    });
  });
  const line = async (pattern: RegExp, timeoutMs = 10_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.find((l) => pattern.test(l));
      if (found !== undefined) return found;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited before printing ${pattern}; stdout: ${lines.join(' | ')}; stderr: ${stderr}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`${what} printed no line matching ${pattern} within ${timeoutMs} ms; stdout: ${lines.join(' | ')}; stderr: ${stderr}`);
      await Promise.race([new Promise<void>((wake) => waiters.push(wake)), sleep(Math.min(remaining, 200))]);
    }
  };
  return { child, lines, stderr: () => stderr, line, exited };
}

function runIn(ns: string, script: string, args: Array<string | number>): Running {
  return watch(lab!.spawn(ns, process.execPath, [join(scriptDir, script), ...args.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] }), `${script} in ${ns}`);
}

function runHere(script: string, args: string[]): Running {
  return watch(spawn(process.execPath, [join(scriptDir, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] }), script);
}

/** The lab, or a skip that says why there is none. */
function labOrSkip(t: TestContext): Lab | undefined {
  if (!availability.ok) t.skip(`network lab unavailable here: ${availability.reason}`);
  else if (!lab) t.skip('the lab was not built (see the error of the first test)');
  return availability.ok ? lab : undefined;
}

async function nothingLeft(name: string): Promise<void> {
  const found = await listLabResources(name);
  assert.deepEqual(found, { namespaces: [], links: [], nftTables: [] }, `leftovers of lab ${name}`);
  // The same, as a person would check it.
  const [netns, links, tables] = await Promise.all([runCommand('ip', ['netns', 'list']), runCommand('ip', ['link', 'show']), runCommand('nft', ['list', 'tables'])]);
  for (const output of [netns.stdout, links.stdout, tables.stdout]) assert.ok(!output.includes(`${name}-`), output);
}

/** A zombie has left every namespace; only a process that still runs counts as alive. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Removes labs of earlier runs of this file whose process is dead (killed before its hooks could run). */
async function removeStaleLabs(): Promise<void> {
  const { stdout } = await runCommand('ip', ['-j', 'netns', 'list']);
  const names = new Set<string>();
  for (const { name } of JSON.parse(stdout.trim() || '[]') as Array<{ name: string }>) {
    const match = STALE_LAB.exec(name);
    if (match && !running(parseInt(match[2]!, 36))) names.add(match[1]!);
  }
  for (const name of names) await destroyLab(name);
}

before(async () => {
  availability = await labAvailable();
  if (!availability.ok) return;
  scriptDir = mkdtempSync(join(tmpdir(), 'netlab-test-'));
  for (const [name, source] of Object.entries(SCRIPTS)) writeFileSync(join(scriptDir, name), source);
  await removeStaleLabs();
  pingMissing = await runCommand('ping', ['-V']).then(
    () => undefined,
    () => 'ping is not installed (Debian package iputils-ping)',
  );
  lab = await createLab(mainSpec);
});

after(async () => {
  for (const child of started) child.kill('SIGKILL');
  await lab?.destroy();
  for (const name of [THROWS, SIGNALLED, KILLED]) await destroyLab(name).catch(() => undefined);
  if (scriptDir) rmSync(scriptDir, { recursive: true, force: true });
});

test('routing: a device pings a device of its branch, the core across the WAN, and a device of the other branch', { timeout: 30_000 }, async (t) => {
  const lab = labOrSkip(t);
  if (!lab) return;
  if (pingMissing) return t.skip(pingMissing);
  const [a, b] = lab.branches;
  const from = a!.devices[0]!;
  for (const target of [a!.devices[1]!.address, lab.core.address, b!.devices[0]!.address]) {
    const { stdout } = await lab.exec(from.ns, 'ping', ['-c', '1', '-W', '2', target]);
    assert.match(stdout, / 1 received/, `ping ${target} from ${from.address}`);
  }
  // The lab is sealed: a router has no route beyond the lab's subnets (asked of the routing table
  // only; no packet is sent), and no lab namespace is linked to the machine's own network.
  await assert.rejects(lab.exec(a!.routerNs, 'ip', ['route', 'get', OUTSIDE_ADDRESS]), /unreachable/i);
});

test('multicast with TTL 1 reaches every other device of its branch and none of the other branch', { timeout: 30_000 }, async (t) => {
  const lab = labOrSkip(t);
  if (!lab) return;
  const [a, b] = lab.branches;
  const port = 47001;
  const count = 200;
  const sameBranch = a!.devices.slice(1).map((d) => runIn(d.ns, 'mcast-receiver.js', [GROUP, port]));
  const otherBranch = b!.devices.map((d) => runIn(d.ns, 'mcast-receiver.js', [GROUP, port]));
  await Promise.all([...sameBranch, ...otherBranch].map((r) => r.line(/^ready$/)));
  const sender = runIn(a!.devices[0]!.ns, 'mcast-sender.js', [GROUP, port, count]);
  await sender.line(/"sent"/, 20_000);
  const got = await Promise.all(sameBranch.map(async (r) => JSON.parse(await r.line(/"received"/)) as { received: number; senders: string[] }));
  // Whatever was going to cross to branch b has had the whole end-marker tail (200 ms) to do so.
  for (const r of otherBranch) r.child.kill('SIGTERM');
  const other = await Promise.all(otherBranch.map(async (r) => JSON.parse(await r.line(/"received"/)) as { received: number }));
  t.diagnostic(`branch a receivers got ${got.map((g) => g.received).join(', ')} of ${count}; branch b receivers got ${other.map((o) => o.received).join(', ')}`);
  for (const g of got) {
    assert.equal(g.received, count, 'a lossless LAN delivers every datagram');
    assert.deepEqual(g.senders, [a!.devices[0]!.address]);
  }
  for (const o of other) assert.equal(o.received, 0, 'multicast must not cross the router');
});

test('WAN shaping: transfers both ways take at least the time the rate allows, and the WAN counters count them', { timeout: 60_000 }, async (t) => {
  const lab = labOrSkip(t);
  if (!lab) return;
  const branch = lab.branches[0]!;
  const device = branch.devices[0]!;
  const port = 8080;
  const server = runIn(lab.core.ns, 'http-server.js', [lab.core.address, port, DOWNLOAD_BYTES]);
  await server.line(/^listening \d+$/);
  const url = `http://${lab.core.address}:${port}/`;

  const before = await lab.wanCounters(branch.name);
  const download = runIn(device.ns, 'http-client.js', ['GET', url]);
  const down = JSON.parse(await download.line(/"ms"/, 40_000)) as { bytes: number; ms: number };
  const upload = runIn(device.ns, 'http-client.js', ['POST', url, UPLOAD_BYTES]);
  const up = JSON.parse(await upload.line(/"ms"/, 40_000)) as { bytes: number; ms: number };
  const afterwards = await lab.wanCounters(branch.name);

  const nominalDownMs = ((DOWNLOAD_BYTES * 8) / (WAN_RATE_MBIT * 1e6)) * 1000;
  const nominalUpMs = ((UPLOAD_BYTES * 8) / (WAN_RATE_MBIT * 1e6)) * 1000;
  const toBranch = afterwards.toBranch.bytes - before.toBranch.bytes;
  const fromBranch = afterwards.fromBranch.bytes - before.fromBranch.bytes;
  t.diagnostic(
    `download ${down.bytes} B in ${down.ms.toFixed(0)} ms (nominal ${nominalDownMs.toFixed(0)} ms at ${WAN_RATE_MBIT} Mbit/s, ${((down.bytes * 8) / down.ms / 1000).toFixed(2)} Mbit/s); ` +
      `upload ${up.bytes} B in ${up.ms.toFixed(0)} ms (nominal ${nominalUpMs.toFixed(0)} ms); ` +
      `WAN to branch +${toBranch} B (${(toBranch / DOWNLOAD_BYTES).toFixed(3)}x the download), from branch +${fromBranch} B; shaper drops ${afterwards.toBranch.shaperDrops} down, ${afterwards.fromBranch.shaperDrops} up`,
  );
  assert.equal(down.bytes, DOWNLOAD_BYTES);
  assert.equal(up.bytes, UPLOAD_BYTES);
  assert.ok(down.ms >= nominalDownMs * MIN_SHAPED_FRACTION, `download took ${down.ms} ms, faster than ${WAN_RATE_MBIT} Mbit/s allows`);
  assert.ok(down.ms <= nominalDownMs * MAX_SHAPED_FACTOR, `download took ${down.ms} ms, far slower than ${WAN_RATE_MBIT} Mbit/s`);
  assert.ok(up.ms >= nominalUpMs * MIN_SHAPED_FRACTION, `upload took ${up.ms} ms, faster than ${WAN_RATE_MBIT} Mbit/s allows: the branch side is not shaped`);
  assert.ok(toBranch >= DOWNLOAD_BYTES, `WAN counters grew by ${toBranch} B toward the branch`);
  assert.ok(fromBranch >= UPLOAD_BYTES, `WAN counters grew by ${fromBranch} B from the branch`);
  server.child.kill('SIGTERM');
  await server.exited;
});

test('LAN loss: each device drops about the configured share of UDP and lets other protocols through', { timeout: 30_000 }, async (t) => {
  const lab = labOrSkip(t);
  if (!lab) return;
  const branch = lab.branches[1]!;
  const port = 47002;
  const count = 1000;
  const receivers = branch.devices.slice(1).map((d) => runIn(d.ns, 'mcast-receiver.js', [GROUP, port]));
  await Promise.all(receivers.map((r) => r.line(/^ready$/)));
  const sender = runIn(branch.devices[0]!.ns, 'mcast-sender.js', [GROUP, port, count]);
  await sender.line(/"sent"/, 20_000);
  const got = await Promise.all(receivers.map(async (r) => (JSON.parse(await r.line(/"received"/)) as { received: number }).received));
  t.diagnostic(`with ${LOSS_PERCENT} % loss, receivers got ${got.map((g) => `${g} (${((g / count) * 100).toFixed(1)} %)`).join(', ')} of ${count}`);
  for (const received of got) {
    assert.ok(received >= count * 0.55 && received <= count * 0.85, `received ${received} of ${count}`);
  }
  // lossProto 'udp': ICMP (and TCP) pass untouched, ten pings out of ten.
  if (pingMissing) return t.diagnostic(`the check that ICMP is not dropped was left out: ${pingMissing}`);
  const { stdout } = await lab.exec(branch.devices[1]!.ns, 'ping', ['-c', '10', '-i', '0.01', '-W', '2', branch.routerAddress]);
  assert.match(stdout, / 10 received/);
});

test('host: attachHost makes the machine a core host; devices of both branches fetch from a server bound to its lab address, across the WAN', { timeout: 60_000 }, async (t) => {
  const lab = labOrSkip(t);
  if (!lab) return;
  const host = await lab.attachHost();
  assert.equal(host.address, '10.209.0.2', 'host 2 of the core subnet');
  assert.equal(host.iface, `${MAIN}-host`);
  assert.equal(await lab.attachHost(), host, 'a second call changes nothing');
  assert.equal(lab.host, host);
  // Asked of the routing table only: the branches are reached through their routers on the lab link.
  for (const branch of lab.plan.branches) {
    const { stdout } = await runCommand('ip', ['-4', 'route', 'get', branch.devices[0]!.address]);
    assert.match(stdout, new RegExp(`via ${branch.routerWanAddress.replaceAll('.', '\\.')} dev ${host.iface} `), stdout);
  }
  // A second lab on the same core subnet would now clash with the host's address; it is refused before anything is built.
  await assert.rejects(createLab(smallSpec(THROWS)), (error: unknown) => error instanceof Error && (error as { code?: string }).code === 'LAB.ADDRESS_IN_USE');

  const server = runHere('http-server.js', [host.address, '0', String(HOST_DOWNLOAD_BYTES)]);
  const port = Number((await server.line(/^listening \d+$/)).split(' ')[1]);
  for (const branch of lab.branches) {
    const before = await lab.wanCounters(branch.name);
    const client = runIn(branch.devices[1]!.ns, 'http-client.js', ['GET', `http://${host.address}:${port}/`]);
    const got = JSON.parse(await client.line(/"ms"/, 20_000)) as { bytes: number; ms: number };
    const toBranch = (await lab.wanCounters(branch.name)).toBranch.bytes - before.toBranch.bytes;
    t.diagnostic(`branch ${branch.name}: ${got.bytes} B from the host in ${got.ms.toFixed(0)} ms; WAN to branch +${toBranch} B`);
    assert.equal(got.bytes, HOST_DOWNLOAD_BYTES);
    assert.ok(toBranch >= HOST_DOWNLOAD_BYTES * MIN_FRAMED_RATIO, `the download crossed the branch's WAN link, a header per frame (+${toBranch} B)`);
  }
  server.child.kill('SIGTERM');
  await server.exited;
});

test('destroy: no namespace, link or nft table with the prefix is left', { timeout: 30_000 }, async (t) => {
  const built = labOrSkip(t);
  if (!built) return;
  const inside = runIn(built.branches[0]!.devices[0]!.ns, 'mcast-receiver.js', [GROUP, 47003]);
  await inside.line(/^ready$/);
  const attached = built.host;
  await built.destroy();
  await nothingLeft(MAIN);
  assert.equal(built.host, undefined);
  if (attached) {
    // The host's routes named the veth, so they went with it.
    const { stdout } = await runCommand('ip', ['-4', 'route', 'show', 'table', 'all']);
    for (const route of attached.routes) assert.ok(!stdout.includes(route.subnet), `route to ${route.subnet} left behind:\n${stdout}`);
    assert.ok(!stdout.includes(attached.address), `the host's lab address is left:\n${stdout}`);
  }
  assert.notEqual((await inside.exited).signal, null, 'a process running in the lab is killed with it');
  await built.destroy();
  lab = undefined;
});

test('a run that throws midway, or is stopped by SIGTERM, leaves nothing behind', { timeout: 60_000 }, async (t) => {
  if (!availability.ok) return t.skip(`network lab unavailable here: ${availability.reason}`);
  const index = join(__dirname, 'index.js');
  const thrower = runHere('crashing-run.js', [index, 'throw', JSON.stringify(smallSpec(THROWS))]);
  const thrown = await thrower.exited;
  assert.equal(thrown.code, 1, thrower.stderr());
  assert.match(thrower.stderr(), /thrown midway/);
  await nothingLeft(THROWS);

  const waiter = runHere('crashing-run.js', [index, 'wait', JSON.stringify(smallSpec(SIGNALLED))]);
  await waiter.line(/^ready$/, 20_000);
  assert.ok((await listLabResources(SIGNALLED)).namespaces.length > 0, 'the lab was up before the signal');
  waiter.child.kill('SIGTERM');
  assert.equal((await waiter.exited).signal, 'SIGTERM', 'the hook keeps the signal\'s usual effect');
  await nothingLeft(SIGNALLED);
});

test('a run killed with SIGKILL leaves a lab with a process inside; the next createLab removes it', { timeout: 60_000 }, async (t) => {
  if (!availability.ok) return t.skip(`network lab unavailable here: ${availability.reason}`);
  const crashed = runHere('crashing-run.js', [join(__dirname, 'index.js'), 'orphan', JSON.stringify(smallSpec(KILLED))]);
  const orphan = Number((await crashed.line(/^ready \d+$/, 20_000)).split(' ')[1]);
  crashed.child.kill('SIGKILL');
  await crashed.exited;
  assert.ok(running(orphan), 'the process left inside the lab outlives its parent');
  assert.ok((await listLabResources(KILLED)).namespaces.length >= 3, 'SIGKILL gives the hooks no chance');

  const again = await createLab(smallSpec(KILLED));
  const deadline = Date.now() + 5_000;
  while (running(orphan) && Date.now() < deadline) await sleep(50);
  assert.equal(running(orphan), false, 'the leftover process was killed');
  await again.destroy();
  await nothingLeft(KILLED);
});
