#!/usr/bin/env node
// The peer-to-peer benchmark on the network lab (docs/p2p.md): a central office (the core network,
// where the origin is) and 2 branches of M devices behind 20 Mbit/s WAN links, a package reaching
// each branch's devices in 3 waves 5 s apart. Three ways, each on a fresh lab, database and stack,
// measured in the same run: the origin only (every device downloads over the WAN), subnet
// multicast, and the office swarm. Per run: time from task creation to the last device done, each
// wave's time from coming online to its last device done, and per branch the origin's and the WAN
// link's bytes over the package size. Then the swarm's goodput inside a branch: one device holds the
// package, the others of the branch fetch it at once from it and from each other; against one device
// fetching alone from that one peer. Needs Linux, root, a built workspace and a Postgres
// (FLEETCAST_TEST_PG_URL, default the local one).
//   npm run bench:p2p                  64 MiB, M = 6 and 12
//   npm run bench:p2p -- --quick       8 MiB, M = 6 and 12
//   --size-mb N  --devices 6[,12]  --modes origin,multicast,swarm  --no-goodput  --goodput-only
//   --port-mbit N (each device's LAN port, both ways; default 100, 0 unshaped)  --json
//   --cpu-prof DIR (each agent writes a V8 CPU profile there when it stops; the profiler slows them)
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireBuilt, tearDownOnSignals } from './lib/lab-run.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const say = (msg) => console.log(`[bench:p2p] ${msg}`);
const MIB = 1024 * 1024;
const EXIT_UNAVAILABLE = 2;
const EXIT_USAGE = 64;
const BUILT = ['libs/testing/dist/index.js', 'libs/netlab/dist/index.js', 'agents/agent/dist/src/cli.js', 'services/gateway/dist/src/main.js'];
const FULL = { sizeMb: 64, devices: [6, 12] };
const QUICK = { sizeMb: 8, devices: [6, 12] };
const WAN_RATE_MBIT = 20;
/**
 * Each device's LAN port, both ways (a switched office LAN of Fast Ethernet ports): what one peer can
 * upload and one device can take. Unshaped, every transfer of the lab runs as fast as the machine's
 * two cores copy and hash, and the swarm's gain over one peer would measure the CPU, not the LAN.
 */
const DEFAULT_PORT_MBIT = 100;
/** As the WAN shaper's: what a switch port buffers, no standing queue. */
const PORT_QUEUE_LATENCY = '50ms';
const WAVES = 3;
const WAVE_GAP_MS = 5_000;
const MODES = {
  origin: { useMulticast: false, peerDownloadAllowed: false },
  // As the lab multicast test: the representative starts once every target of the subnet joined, or after 3 s.
  multicast: { useMulticast: true, peerDownloadAllowed: true, sessionStartDelaySeconds: 3 },
  swarm: { useMulticast: false, peerDownloadAllowed: true },
};
/** Apart from the e2e lab tests' ranges (each lab joins the host). */
const CORE_SUBNET = '10.232.0.0/24';
const branchSubnet = (i) => `10.233.${i + 1}.0/24`;
/** The origin-only run moves M copies per branch over its WAN link; room for TCP's back-off and a loaded machine. */
const timeoutMs = (bytes, devices) => Math.ceil(((bytes * devices * 8) / (WAN_RATE_MBIT * 1e6)) * 1.6 * 1000) + 90_000;

function usage(message) {
  console.error(`${message}\nusage: npm run bench:p2p -- [--quick] [--size-mb 64] [--devices 6,12] [--modes origin,multicast,swarm] [--no-goodput] [--goodput-only] [--port-mbit 100] [--json] [--cpu-prof DIR]`);
  process.exit(EXIT_USAGE);
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      'size-mb': { type: 'string' },
      devices: { type: 'string' },
      modes: { type: 'string', default: 'origin,multicast,swarm' },
      'no-goodput': { type: 'boolean', default: false },
      'goodput-only': { type: 'boolean', default: false },
      'port-mbit': { type: 'string' },
      json: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
    },
  }));
} catch (error) {
  usage(error.message);
}
const matrix = { ...(opts.quick ? QUICK : FULL) };
if (opts.devices !== undefined) {
  matrix.devices = opts.devices.split(',').map(Number);
  if (!matrix.devices.every((n) => Number.isInteger(n) && n >= WAVES)) usage(`--devices takes branch sizes of ${WAVES} or more, comma-separated (got "${opts.devices}")`);
}
const sizeMb = opts['size-mb'] === undefined ? matrix.sizeMb : Number(opts['size-mb']);
if (!(sizeMb > 0)) usage(`--size-mb must be a number above 0 (got "${opts['size-mb']}")`);
const packageBytes = Math.round(sizeMb * MIB);
const modes = opts.modes.split(',');
const portMbit = opts['port-mbit'] === undefined ? DEFAULT_PORT_MBIT : Number(opts['port-mbit']);
if (!(portMbit >= 0)) usage(`--port-mbit must be 0 (unshaped) or more (got "${opts['port-mbit']}")`);
if (opts['cpu-prof'] === '') usage('--cpu-prof takes the folder the agents write their profiles to');
const agentNodeArgs = opts['cpu-prof'] === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', resolve(opts['cpu-prof'])];
if (modes.some((m) => !(m in MODES))) usage(`--modes takes ${Object.keys(MODES).join(', ')} (got "${opts.modes}")`);
requireBuilt(root, BUILT);
const testing = require(join(root, 'libs/testing/dist/index.js'));
const netlab = require(join(root, 'libs/netlab/dist/index.js'));
const run$ = promisify(execFile);
const labName = testing.labNameForThisProcess('bp');

/** What the current run holds; torn down after each run, on failure and on a signal. */
let current = {};
async function teardown() {
  const { stack, lab, db, work } = current;
  current = {};
  await stack?.stop().catch((error) => say(`stopping the stack: ${error.message}`));
  await testing.stopAll().catch(() => undefined);
  if (lab) await lab.destroy().catch((error) => say(`removing the lab: ${error.message}`));
  await db?.drop().catch((error) => say(`dropping database ${db.name}: ${error.message}`));
  if (work) await rm(work, { recursive: true, force: true });
}
tearDownOnSignals(teardown, say);

/** A fresh lab of `branches` branches of `devices` each, database and stack, with the lab's topology read by every agent. */
async function startRunLab(devices, branches = 2) {
  current.db = await testing.createTestDatabase('fleetcast_bench_p2p');
  current.work = await mkdtemp(join(tmpdir(), 'fleetcast-bench-p2p-'));
  current.lab = await testing.createLab({
    name: labName,
    core: { subnet: CORE_SUBNET },
    branches: ['east', 'west'].slice(0, branches).map((name, i) => ({ name, subnet: branchSubnet(i), devices, wan: { rateMbit: WAN_RATE_MBIT } })),
  });
  if (portMbit > 0) await shapePorts(current.lab.plan);
  current.stack = await testing.startLabStack({ lab: current.lab, databaseUrl: current.db.url, apiToken: randomBytes(16).toString('hex'), workDir: current.work, agentArgs: ['--multicast'], agentNodeArgs });
  await testing.placeLabDevices(current.stack);
}

/** Every device's LAN port at `portMbit`, both ways: its bridge port's egress (what it receives) and its own interface's (what it sends). */
async function shapePorts(plan) {
  const kbit = `${Math.round(portMbit * 1000)}kbit`;
  const burst = String(netlab.defaultBurstBytes(portMbit));
  for (const branch of plan.branches) {
    for (const device of branch.devices) {
      await run$('tc', ['-n', branch.routerNs, 'qdisc', 'replace', 'dev', device.bridgePort, 'root', 'tbf', 'rate', kbit, 'burst', burst, 'latency', PORT_QUEUE_LATENCY]);
      await run$('tc', ['-n', device.ns, 'qdisc', 'replace', 'dev', device.iface, 'root', 'tbf', 'rate', kbit, 'burst', burst, 'latency', PORT_QUEUE_LATENCY]);
    }
  }
}

const waveOf = (deviceId, devices) => Math.floor((Number(deviceId.split('-')[1]) - 1) / Math.ceil(devices / WAVES));

/** One distribution to both branches, the devices coming online in waves. */
async function run(mode, devices) {
  say(`--- ${mode}, 2 branches x ${devices} devices, ${sizeMb} MiB, ${WAVES} waves ${WAVE_GAP_MS / 1000} s apart`);
  await startRunLab(devices);
  const { stack } = current;
  const later = stack.agents.filter((a) => waveOf(a.deviceId, devices) > 0);
  await Promise.all(later.map((a) => a.process.stop()));
  const distribution = await testing.startLabDistribution({
    stack,
    packageBytes,
    action: 'cache-only',
    profile: MODES[mode],
    timeoutMs: timeoutMs(packageBytes, devices),
    print: (line) => console.log(`  ${line}`),
  });
  // When each wave's agents were up, in seconds after the task's creation: a wave's time runs from there.
  const onlineAt = [0];
  for (let wave = 1; wave < WAVES; wave++) {
    await new Promise((resolve) => setTimeout(resolve, WAVE_GAP_MS));
    await Promise.all(later.filter((a) => waveOf(a.deviceId, devices) === wave).map((a) => stack.startAgent(a.deviceId)));
    onlineAt.push((Date.now() - distribution.startedAt) / 1000);
  }
  const report = await distribution.finish();
  await teardown();
  const waves = [...Array(WAVES).keys()].map((wave) => {
    const mine = report.devices.filter((d) => waveOf(d.deviceId, devices) === wave);
    return Math.max(...mine.map((d) => (d.seconds ?? Number.NaN) - onlineAt[wave]));
  });
  return {
    mode,
    devices,
    done: report.totals.done,
    total: report.totals.devices,
    seconds: report.totals.seconds,
    waves,
    branches: report.subnets.map((s) => ({ branch: s.branch, originRatio: s.originRatio, wanRatio: s.wanRatio })),
    peerBytes: report.devices.reduce((n, d) => n + d.bytes.peer, 0),
  };
}

/** The JSON log lines of an agent with this message. */
async function logLines(logFile, message) {
  const quoted = JSON.stringify(message);
  return (await readFile(logFile, 'utf8'))
    .split('\n')
    .filter((l) => l.includes(quoted))
    .map((l) => JSON.parse(l))
    .filter((e) => e.msg === message);
}

/**
 * Goodput inside one branch: a first task brings the package to one device (the seed); a second
 * task, for the same package, to `fetchers` other devices of the branch at once, which fetch it
 * from the seed and each other. Goodput is the bytes they got over the time from the second task's
 * creation to its last device done.
 */
async function goodput(fetchers) {
  say(`--- goodput: 1 seed and ${fetchers} fetcher(s) in one branch, ${sizeMb} MiB`);
  await startRunLab(fetchers + 1, 1);
  const { stack } = current;
  const [seed, ...others] = stack.agents;
  await Promise.all(others.map((a) => a.process.stop()));
  await testing.runLabDistribution({ stack, packageBytes, action: 'cache-only', profile: MODES.swarm, seed: 'bench-p2p-goodput', targets: [seed.deviceId], timeoutMs: timeoutMs(packageBytes, 1), print: () => undefined });
  await Promise.all(others.map((a) => stack.startAgent(a.deviceId)));
  // The second task, for the same content, to the fetchers only, once they run: the seed serves.
  const report = await testing.runLabDistribution({
    stack,
    packageBytes,
    action: 'cache-only',
    profile: MODES.swarm,
    seed: 'bench-p2p-goodput',
    targets: others.map((a) => a.deviceId),
    timeoutMs: timeoutMs(packageBytes, 2),
    print: () => undefined,
  });
  const fetched = report.devices.filter((d) => d.deviceId !== seed.deviceId);
  const seconds = Math.max(...fetched.map((d) => d.seconds ?? Number.NaN));
  const peerBytes = fetched.reduce((n, d) => n + d.bytes.peer, 0);
  const originBytes = fetched.reduce((n, d) => n + d.bytes.origin, 0);
  const badPeers = (await Promise.all(others.map((a) => logLines(a.logFile, 'a peer sent blocks that do not match the manifest: dropped for this content')))).flat().length;
  await teardown();
  return { fetchers, seconds, peerBytes, originBytes, goodputMBps: peerBytes / 1e6 / seconds, badPeers };
}

const fmt = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

async function main() {
  const availability = await testing.labAvailable();
  if (!availability.ok) {
    console.error(`no network lab on this machine: ${availability.reason}`);
    return EXIT_UNAVAILABLE;
  }
  const stale = await testing.destroyStaleLabs('bp');
  if (stale.length > 0) say(`removed labs of dead runs: ${stale.join(', ')}`);
  const results = [];
  if (!opts['goodput-only']) for (const devices of matrix.devices) for (const mode of modes) results.push(await run(mode, devices));
  const goodputs = [];
  if (!opts['no-goodput']) {
    goodputs.push(await goodput(1));
    goodputs.push(await goodput(Math.max(...matrix.devices) - 1));
  }

  console.log(`\n=== bench:p2p: ${sizeMb} MiB to 2 branches, WAN ${WAN_RATE_MBIT} Mbit/s each, LAN ports ${portMbit > 0 ? `${portMbit} Mbit/s` : 'unshaped'}, ${WAVES} waves ${WAVE_GAP_MS / 1000} s apart`);
  console.log('mode       M   done   last done   per wave (online to last done)   origin/branch   WAN link/branch');
  for (const r of results) {
    const origin = r.branches.map((b) => fmt(b.originRatio, 3)).join(' ');
    const wan = r.branches.map((b) => fmt(b.wanRatio, 3)).join(' ');
    console.log(`${r.mode.padEnd(10)} ${String(r.devices).padStart(2)}  ${`${r.done}/${r.total}`.padStart(5)}  ${`${fmt(r.seconds)} s`.padStart(9)}   ${r.waves.map((w) => `${fmt(w)} s`).join(', ').padEnd(31)}  ${origin.padEnd(14)}  ${wan}`);
  }
  for (const devices of matrix.devices) {
    const base = results.find((r) => r.mode === 'origin' && r.devices === devices);
    const swarm = results.find((r) => r.mode === 'swarm' && r.devices === devices);
    const multicast = results.find((r) => r.mode === 'multicast' && r.devices === devices);
    if (swarm && base) console.log(`M=${devices}: swarm ${fmt(base.seconds / swarm.seconds, 2)}x faster than the origin only`);
    if (swarm && multicast) console.log(`M=${devices}: swarm ${fmt(multicast.seconds / swarm.seconds, 2)}x the speed of multicast`);
  }
  const swarms = results.filter((r) => r.mode === 'swarm').sort((a, b) => a.devices - b.devices);
  if (swarms.length >= 2) console.log(`swarm, last of ${swarms[1].devices} over last of ${swarms[0].devices}: ${fmt(swarms[1].seconds / swarms[0].seconds, 2)}x (target at most 1.5x)`);
  for (const g of goodputs) console.log(`goodput, ${g.fetchers} fetcher(s) from 1 seed and each other: ${fmt(g.goodputMBps)} MB/s (${fmt(g.seconds)} s, ${fmt(g.peerBytes / MIB)} MiB from peers, ${fmt(g.originBytes / MIB)} MiB from the origin, ${g.badPeers} bad peers)`);
  if (goodputs.length === 2) console.log(`swarm goodput over a single peer's: ${fmt(goodputs[1].goodputMBps / goodputs[0].goodputMBps, 2)}x (target at least 3x)`);
  if (opts.json) console.log(JSON.stringify({ sizeMb, portMbit, results, goodputs }));
  return results.every((r) => r.done === r.total) ? 0 : 1;
}

main()
  .catch(async (error) => {
    console.error(error instanceof Error ? error.stack : String(error));
    return 1;
  })
  .then(async (code) => {
    await teardown();
    process.exit(code);
  });
