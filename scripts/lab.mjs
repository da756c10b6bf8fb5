#!/usr/bin/env node
// One distribution across a network lab, measured: builds the lab from a spec (network namespaces,
// shaped WAN links), joins this machine to its core network, runs NATS and the control plane here
// and an agent in every device namespace, distributes a generated package to every device, prints
// per device and per subnet the time, the bytes by source, the origin's count and the WAN link
// counters, and removes everything it created, also on failure or Ctrl-C. Needs Linux, root, a
// built workspace (npm run build) and a Postgres (FLEETCAST_TEST_PG_URL, default the local one).
//   node scripts/lab.mjs --spec infra/lab/two-branches.json --size-mb 20
//   --action cache-only|install   what the task does on the devices (default cache-only)
//   --no-multicast                agents that download from the origin only (the baseline)
//   --start-delay-seconds N       the task's session start delay (default: the default profile's, 60 s;
//                                 the session starts early once every device of the subnet joined)
//   --json                        also print the report as one JSON line at the end
//   --keep-files                  keep the logs, agent states and caches (the path is printed)
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const say = (msg) => console.log(`[lab] ${msg}`);
const MIB = 1024 * 1024;
/** Exit codes a script can branch on, as the netlab CLI's: 2 the machine cannot build a lab, 64 a wrong command line. */
const EXIT_UNAVAILABLE = 2;
const EXIT_USAGE = 64;
/** What the compiled workspace must hold; the lab runs the built services and agent, never sources. */
const BUILT = ['libs/testing/dist/index.js', 'libs/netlab/dist/index.js', 'agents/agent/dist/src/cli.js', 'services/origin/dist/src/main.js'];

function usage(message) {
  console.error(`${message}\nusage: node scripts/lab.mjs [--spec infra/lab/two-branches.json] [--size-mb 20] [--action cache-only|install] [--no-multicast] [--start-delay-seconds N] [--json] [--keep-files]`);
  process.exit(EXIT_USAGE);
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      spec: { type: 'string', default: join(root, 'infra/lab/two-branches.json') },
      'size-mb': { type: 'string', default: '20' },
      action: { type: 'string', default: 'cache-only' },
      'no-multicast': { type: 'boolean', default: false },
      'start-delay-seconds': { type: 'string' },
      json: { type: 'boolean', default: false },
      'keep-files': { type: 'boolean', default: false },
    },
  }));
} catch (error) {
  usage(error.message);
}
const sizeMb = Number(opts['size-mb']);
if (!(sizeMb > 0)) usage(`--size-mb must be a number above 0 (got "${opts['size-mb']}")`);
if (opts.action !== 'cache-only' && opts.action !== 'install') usage(`--action must be cache-only or install (got "${opts.action}")`);
const startDelay = opts['start-delay-seconds'] === undefined ? undefined : Number(opts['start-delay-seconds']);
if (startDelay !== undefined && !(Number.isInteger(startDelay) && startDelay >= 0 && startDelay <= 3600)) usage(`--start-delay-seconds must be a whole number from 0 to 3600 (got "${opts['start-delay-seconds']}")`);
const missing = BUILT.filter((file) => !existsSync(join(root, file)));
if (missing.length > 0) {
  console.error(`the workspace is not built (missing ${missing.join(', ')}); run "npm run build" first`);
  process.exit(1);
}
const spec = JSON.parse(readFileSync(opts.spec, 'utf8'));
const testing = require(join(root, 'libs/testing/dist/index.js'));

let lab;
let stack;
let db;
let work;
let cleaning;
/** Idempotent: the normal end, a failure and a signal may all ask for it. */
function cleanup() {
  cleaning ??= (async () => {
    await stack?.stop().catch((error) => say(`stopping the stack: ${error.message}`));
    await testing.stopAll().catch(() => undefined);
    // A build that fails halfway removes its own part (and its signal hooks the rest); only a lab
    // this run got is destroyed here, never one of the same name that was up before.
    if (lab) await lab.destroy().catch((error) => say(`removing the lab: ${error.message}`));
    await db?.drop().catch((error) => say(`dropping database ${db.name}: ${error.message}`));
    if (work && !opts['keep-files']) await rm(work, { recursive: true, force: true });
    else if (work) say(`kept logs, agent states and caches in ${work}`);
    if (!lab) return;
    const left = await testing.listLabResources(spec.name);
    if (left.namespaces.length + left.links.length + left.nftTables.length > 0) say(`left behind: ${JSON.stringify(left)}; remove with: node libs/netlab/dist/cli.js down --spec ${opts.spec}`);
    else say(`lab ${spec.name} removed`);
  })();
  return cleaning;
}

// Ctrl-C: the lab's and the harness's own hooks kill what runs at once; this then drops the
// database and the files and exits with the signal's status. A second Ctrl-C exits at once.
let interrupted = false;
for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
  process.on(signal, () => {
    if (interrupted) process.exit(128 + number);
    interrupted = true;
    say(`${signal}: tearing down`);
    void cleanup().finally(() => process.exit(128 + number));
  });
}

async function main() {
  const availability = await testing.labAvailable();
  if (!availability.ok) {
    console.error(`cannot build a lab on this machine: ${availability.reason}`);
    return EXIT_UNAVAILABLE;
  }
  try {
    db = await testing.createTestDatabase('fleetcast_lab');
  } catch (error) {
    console.error(`no Postgres for the control plane (${error.message}); run one on 127.0.0.1:5432 (trust for user postgres) or set FLEETCAST_TEST_PG_URL`);
    return 1;
  }
  work = await mkdtemp(join(tmpdir(), 'fleetcast-lab-'));
  lab = await testing.createLab(spec);
  say(`lab ${lab.name}: core ${lab.plan.core.subnet}, ${lab.branches.map((b) => `${b.name} ${b.subnet} (${b.devices.length} devices, WAN ${lab.plan.branches.find((p) => p.name === b.name).rateMbit} Mbit/s)`).join(', ')}`);
  const host = await lab.attachHost();
  say(`this machine joins the core network as ${host.address} (${host.iface}); NATS and the origin listen there`);
  say('starting NATS, the control plane and the agents');
  stack = await testing.startLabStack({ lab, databaseUrl: db.url, apiToken: randomBytes(16).toString('hex'), workDir: work, agentArgs: opts['no-multicast'] ? ['--no-multicast'] : [] });
  say(`${stack.agents.length} agents running; public API ${stack.controlPlane.gatewayUrl}, origin ${stack.controlPlane.originUrl}`);
  const profile = startDelay === undefined ? undefined : { useMulticast: true, sessionStartDelaySeconds: startDelay };
  const report = await testing.runLabDistribution({ stack, lab, packageBytes: Math.round(sizeMb * MIB), action: opts.action, ...(profile ? { profile } : {}) });
  if (opts.json) console.log(JSON.stringify(report));
  return report.totals.done === report.totals.devices ? 0 : 1;
}

main()
  .catch((error) => {
    console.error(error instanceof Error ? (error.code ? `${error.code}: ${error.message}` : error.stack) : String(error));
    return 1;
  })
  .then(async (code) => {
    if (interrupted) return;
    await cleanup();
    process.exit(code);
  });
