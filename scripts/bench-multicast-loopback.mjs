#!/usr/bin/env node
// The multicast transfer alone on loopback, in separate processes: one sender (MulticastSender on
// its own UdpMulticastSocket) and N receivers (MulticastSource), real sockets, authenticated
// packets, every block verified against the manifest. Prints per run: goodput to the last verified
// block, IP bytes sent on the LAN / content, datagrams the kernel dropped at the receivers' sockets
// (receive buffer overflow), injected loss, repair parity, NACKs, and CPU time per MB of content for
// the sender and the receivers.
//
//   node scripts/bench-multicast-loopback.mjs [--size-mb 32] [--receivers 3] [--loss 0,5] [--runs 2]
//        [--impl DIR[,DIR...]] [--rate-kbps 0] [--sender-options '{"session":{...},"repair":{...},"groupDataSymbols":k}'] [--json]
//
// --impl: compiled agents (the `dist` folder of agents/agent, with the @fleetcast libraries it
// resolves beside it); several, comma-separated, run alternately in the same conditions, so that a
// before/after ratio comes from one invocation. Default: this checkout's build (`npm run build`).
// Loss is injected at each receiver on receipt (`injectedReceiveLoss`), as in the loopback tests.
// Needs multicast on loopback (Linux does it by default).
import { fork } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const GROUP = '239.255.70.69';
const IFACE = '127.0.0.1';
/** Block size of the manifests the control plane makes (1 MiB). */
const BLOCK_SIZE = 1024 * 1024;
/** IPv4 + UDP headers, counted for every datagram: the LAN carries them. */
const IP_UDP_BYTES = 28;

const now = () => performance.timeOrigin + performance.now();

function parseArgs(argv) {
  const opts = { sizeMb: 32, receivers: 3, loss: [0, 5], runs: 2, impl: [join(ROOT, 'agents/agent/dist')], rateKbps: 0, json: false, role: null, senderOptions: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--size-mb') opts.sizeMb = Number(next());
    else if (a === '--receivers') opts.receivers = Number(next());
    else if (a === '--loss') opts.loss = next().split(',').map(Number);
    else if (a === '--runs') opts.runs = Number(next());
    else if (a === '--impl') opts.impl = next().split(',').map((p) => resolve(p));
    else if (a === '--rate-kbps') opts.rateKbps = Number(next());
    else if (a === '--json') opts.json = true;
    else if (a === '--sender-options') opts.senderOptions = JSON.parse(next());
    else if (a === '--role') opts.role = next();
    else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

/** The agent's adapters and the libraries they resolve, from one compiled tree. */
function load(impl) {
  const require = createRequire(join(impl, 'src/adapters/x.js'));
  return {
    content: require('@fleetcast/content'),
    protocol: require('@fleetcast/lan-protocol'),
    socket: require(join(impl, 'src/adapters/udp-multicast.js')),
    sender: require(join(impl, 'src/adapters/multicast-sender.js')),
    source: require(join(impl, 'src/adapters/multicast-source.js')),
  };
}

function manifestOf(content, lib) {
  const hasher = new lib.content.BlockHasher(BLOCK_SIZE);
  hasher.update(content);
  return hasher.finish();
}

const receiverDeviceId = (seed) => `device-r${seed}`;
const cpuMs = (u) => (u.user + u.system) / 1000;

async function child(role) {
  const job = JSON.parse(process.env.BENCH_JOB);
  const lib = load(job.impl);
  const content = readFileSync(job.file);
  const manifest = manifestOf(content, lib);
  const lanKey = Buffer.from(job.lanKey, 'hex');
  const socket = await lib.socket.UdpMulticastSocket.open({
    group: GROUP,
    port: job.port,
    interfaceAddress: IFACE,
    injectedReceiveLoss: role === 'receiver' ? job.loss / 100 : 0,
    random: lib.protocol.seededRandom(job.seed),
  });
  const exit = new Promise((r) => process.on('message', (m) => m === 'exit' && r()));
  if (role === 'receiver') {
    const source = new lib.source.MulticastSource({ socket, taskId: job.taskId, deviceId: receiverDeviceId(job.seed), lanKey, random: lib.protocol.seededRandom(job.seed + 1) });
    let blocks = 0;
    const controller = new AbortController();
    const fetch = source.fetchBlocks({
      manifest,
      blocks: Array.from({ length: Math.ceil(manifest.size / manifest.blockSize) }, (_, i) => i),
      sink: async (index, bytes) => {
        // Delivered blocks are verified by the source already; compare with the original too.
        if (!Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).equals(content.subarray(index * BLOCK_SIZE, index * BLOCK_SIZE + bytes.length))) throw new Error(`block ${index} differs`);
        blocks++;
      },
      signal: controller.signal,
    });
    const cpu0 = process.cpuUsage();
    process.send({ type: 'ready', inodes: socketInodes() });
    let error = null;
    try {
      await fetch;
    } catch (e) {
      error = e.message;
    }
    const doneAt = now();
    const cpu = process.cpuUsage(cpu0);
    process.send({ type: 'done', doneAt, cpuMs: cpuMs(cpu), blocks, error, source: source.stats, socket: socket.stats });
  } else {
    const sender = new lib.sender.MulticastSender({
      socket,
      taskId: job.taskId,
      deviceId: 'device-sender',
      lanKey,
      weight: 100,
      manifest,
      paths: [job.file],
      session: { rateKbps: job.rateKbps, ...job.senderOptions.session },
      repair: job.senderOptions.repair,
      groupDataSymbols: job.senderOptions.groupDataSymbols,
      // Rate control (builds that have it): `{"congestion":false}` sends at --rate-kbps as before.
      congestion: job.senderOptions.congestion,
    });
    for (let i = 0; i < Math.ceil(manifest.size / manifest.blockSize); i++) sender.blockReady(i);
    // As the agent does with the devices that joined: their DONE closes the session early (builds that have it).
    if (typeof sender.expectReceivers === 'function') sender.expectReceivers(job.receiverIds.map((id) => lib.protocol.senderIdOf(id)));
    const cpu0 = process.cpuUsage();
    const startAt = now();
    sender.start();
    process.send({ type: 'started', startAt });
    let error = null;
    try {
      await sender.done;
    } catch (e) {
      error = e.message;
    }
    // The session lingers quietMs after the pass; the CPU of that idle time is noise, not per-MB cost.
    process.send({ type: 'done', doneAt: now(), cpuMs: cpuMs(process.cpuUsage(cpu0)), error, stats: sender.stats, socket: socket.stats });
  }
  await exit;
  await socket.close();
  process.exit(0);
}

/**
 * Kernel drops (receive buffer full) of the UDP sockets with these inodes: /proc/net/udp, column
 * "inode" (10th) and "drops" (last). Only the receivers' sockets count: the sender's socket hears
 * its own packets back through multicast loopback and drops them while it is busy sending.
 */
async function udpDrops(inodes) {
  let drops = 0;
  const lines = (await readFile('/proc/net/udp', 'utf8')).split('\n').slice(1);
  for (const line of lines) {
    const f = line.trim().split(/\s+/);
    if (f.length > 12 && inodes.includes(f[9])) drops += Number(f[f.length - 1]);
  }
  return drops;
}

/** Inodes of this process's sockets (the bench children open one each). */
function socketInodes() {
  const out = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) out.push(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

function spawn(role, job) {
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of every process (open it in Chrome's DevTools).
  const execArgv = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF, '--cpu-prof-name', `${role}-${job.seed}-${Date.now()}.cpuprofile`] : [];
  const proc = fork(fileURLToPath(import.meta.url), ['--role', role], { execArgv, env: { ...process.env, BENCH_JOB: JSON.stringify(job) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages = [];
  const waiters = [];
  proc.on('message', (m) => {
    messages.push(m);
    for (const w of waiters.splice(0)) w();
  });
  const next = async (type) => {
    for (;;) {
      const m = messages.find((x) => x.type === type);
      if (m) return m;
      if (proc.exitCode !== null) throw new Error(`${role} exited with ${proc.exitCode} before "${type}"`);
      await new Promise((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
  };
  return { proc, next };
}

let runCounter = 0;
async function runOnce({ impl, file, size, receivers, loss, rateKbps, senderOptions }) {
  const port = 47_600 + (process.pid % 200) + (runCounter++ % 50);
  const base = { impl, file, port, loss, rateKbps, senderOptions, taskId: `bench-${randomBytes(4).toString('hex')}`, lanKey: randomBytes(32).toString('hex') };
  const rs = Array.from({ length: receivers }, (_, i) => spawn('receiver', { ...base, seed: 10 + i * 7 }));
  const inodes = [];
  for (const r of rs) inodes.push(...(await r.next('ready')).inodes);
  const drops0 = await udpDrops(inodes);
  const s = spawn('sender', { ...base, seed: 1, receiverIds: rs.map((_, i) => receiverDeviceId(10 + i * 7)) });
  const started = await s.next('started');
  const done = await Promise.all(rs.map((r) => r.next('done')));
  const sent = await s.next('done');
  const drops = (await udpDrops(inodes)) - drops0;
  for (const p of [...rs, s]) p.proc.send('exit');
  await Promise.all([...rs, s].map((p) => new Promise((r) => (p.proc.exitCode !== null ? r() : p.proc.on('exit', r)))));
  const errors = [...done.map((d) => d.error), sent.error].filter(Boolean);
  const lastDone = Math.max(...done.map((d) => d.doneAt));
  const seconds = (lastDone - started.startAt) / 1000;
  const ipBytes = (st) => st.bytesSent + IP_UDP_BYTES * st.packetsSent;
  const lanBytes = ipBytes(sent.socket) + done.reduce((a, d) => a + ipBytes(d.socket), 0);
  const mb = size / 1e6;
  return {
    impl,
    loss,
    receivers,
    ok: errors.length === 0 && done.every((d) => d.blocks === Math.ceil(size / BLOCK_SIZE)),
    errors,
    seconds,
    goodputMBps: mb / seconds,
    senderClosedSeconds: (sent.doneAt - started.startAt) / 1000,
    lanBytesPerContent: lanBytes / size,
    kernelDrops: drops,
    injectedLoss: done.reduce((a, d) => a + d.socket.lossInjected, 0),
    repairParity: sent.stats.repairParitySent,
    nacksSent: done.reduce((a, d) => a + d.source.nacksSent, 0),
    senderCpuMsPerMB: sent.cpuMs / mb,
    receiverCpuMsPerMB: done.reduce((a, d) => a + d.cpuMs, 0) / done.length / mb,
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.role !== null) return child(opts.role);
  const dir = await mkdtemp(join(tmpdir(), 'fc-mc-bench-'));
  try {
    const size = Math.round(opts.sizeMb * 1024 * 1024);
    const content = randomBytes(size);
    const file = join(dir, 'content.bin');
    await writeFile(file, content);
    if (!opts.json) {
      console.log(`content ${opts.sizeMb} MiB (sha256 ${createHash('sha256').update(content).digest('hex').slice(0, 12)}), ${opts.receivers} receivers, 1 sender, loopback ${GROUP}, rate ${opts.rateKbps || 'unlimited'}`);
      console.log('impl                                  loss  ok  time s   MB/s  LAN/pkg  kdrops  injected  repair  NACKs  sender ms/MB  receiver ms/MB  closed s');
    }
    const rows = [];
    for (const loss of opts.loss) {
      for (let run = 0; run < opts.runs; run++) {
        for (const impl of opts.impl) {
          const row = await runOnce({ impl, file, size, receivers: opts.receivers, loss, rateKbps: opts.rateKbps, senderOptions: opts.senderOptions });
          rows.push(row);
          if (!opts.json) {
            const name = impl.length > 36 ? '...' + impl.slice(-33) : impl;
            console.log(
              `${name.padEnd(36)} ${String(loss).padStart(4)} %  ${row.ok ? 'ok' : 'NO'} ${row.seconds.toFixed(2).padStart(7)} ${row.goodputMBps.toFixed(1).padStart(6)} ${row.lanBytesPerContent.toFixed(3).padStart(7)}x ${String(row.kernelDrops).padStart(7)} ${String(row.injectedLoss).padStart(9)} ${String(row.repairParity).padStart(7)} ${String(row.nacksSent).padStart(6)} ${row.senderCpuMsPerMB.toFixed(1).padStart(13)} ${row.receiverCpuMsPerMB.toFixed(1).padStart(15)} ${row.senderClosedSeconds.toFixed(2).padStart(9)}`,
            );
            if (!row.ok) console.log(`  errors: ${row.errors.join('; ')}`);
          }
        }
      }
    }
    if (opts.json) console.log(JSON.stringify(rows));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
