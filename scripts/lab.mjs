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
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { requireBuilt, runInLab } from './lib/lab-run.mjs';

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
requireBuilt(root, BUILT);
const spec = JSON.parse(readFileSync(opts.spec, 'utf8'));
const testing = require(join(root, 'libs/testing/dist/index.js'));

async function main(run) {
  const availability = await testing.labAvailable();
  if (!availability.ok) {
    console.error(`cannot build a lab on this machine: ${availability.reason}`);
    return EXIT_UNAVAILABLE;
  }
  try {
    run.db = await testing.createTestDatabase('fleetcast_lab');
  } catch (error) {
    console.error(`no Postgres for the control plane (${error.message}); run one on 127.0.0.1:5432 (trust for user postgres) or set FLEETCAST_TEST_PG_URL`);
    return 1;
  }
  const work = (run.work = await mkdtemp(join(tmpdir(), 'fleetcast-lab-')));
  const lab = (run.lab = await testing.createLab(spec));
  say(`lab ${lab.name}: core ${lab.plan.core.subnet}, ${lab.branches.map((b) => `${b.name} ${b.subnet} (${b.devices.length} devices, WAN ${lab.plan.branches.find((p) => p.name === b.name).rateMbit} Mbit/s)`).join(', ')}`);
  const host = await lab.attachHost();
  say(`this machine joins the core network as ${host.address} (${host.iface}); NATS and the origin listen there`);
  say('starting NATS, the control plane and the agents');
  const stack = (run.stack = await testing.startLabStack({ lab, databaseUrl: run.db.url, apiToken: randomBytes(16).toString('hex'), workDir: work, agentArgs: opts['no-multicast'] ? ['--no-multicast'] : [] }));
  say(`${stack.agents.length} agents running; public API ${stack.controlPlane.gatewayUrl}, origin ${stack.controlPlane.originUrl}`);
  const profile = startDelay === undefined ? undefined : { useMulticast: true, sessionStartDelaySeconds: startDelay };
  const report = await testing.runLabDistribution({ stack, lab, packageBytes: Math.round(sizeMb * MIB), action: opts.action, ...(profile ? { profile } : {}) });
  if (opts.json) console.log(JSON.stringify(report));
  return report.totals.done === report.totals.devices ? 0 : 1;
}

runInLab({ testing, spec, specPath: opts.spec, say, keepFiles: opts['keep-files'], main });
