#!/usr/bin/env node
// The what-if planner against a real distribution: builds a network lab from a spec, runs the
// stack on it (as scripts/lab.mjs does), uploads the lab's topology (a central office on the core
// network, an office per branch with its WAN link's bandwidth), distributes a generated package to
// every device, asks POST /v1/plans for the same package, targets and settings, and compares per
// subnet and in all: WAN bytes toward each branch (the link counters) within 5 % of the plan, time
// from the task's creation to the last device done within 25 %. Exit 0 when every figure is
// within its tolerance, 1 when one is not (or the run failed), 2 when no lab can be built here.
// Needs Linux, root, a built workspace (npm run build) and a Postgres (FLEETCAST_TEST_PG_URL).
//   node scripts/plan-check.mjs --spec infra/lab/two-branches.json --size-mb 20
//   --no-multicast             agents that download from the origin only; the plan is asked with { useMulticast: false }
//   --start-delay-seconds N    the task's session start delay (default: the default profile's, 60 s)
//   --no-topology              upload no topology: the plan uses --default-wan-kbps per subnet (default: the spec's rate)
//   --wan-tolerance 0.05 --time-tolerance 0.25   the bounds checked
//   --json                     also print the comparison as one JSON line at the end
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
const say = (msg) => console.log(`[plan-check] ${msg}`);
const MIB = 1024 * 1024;
const EXIT_UNAVAILABLE = 2;
const EXIT_USAGE = 64;
const BUILT = ['libs/testing/dist/index.js', 'libs/netlab/dist/index.js', 'agents/agent/dist/src/cli.js', 'services/gateway/dist/src/main.js'];

function usage(message) {
  console.error(
    `${message}\nusage: node scripts/plan-check.mjs [--spec infra/lab/two-branches.json] [--size-mb 20] [--no-multicast] [--start-delay-seconds N] [--no-topology] [--wan-tolerance 0.05] [--time-tolerance 0.25] [--json]`,
  );
  process.exit(EXIT_USAGE);
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      spec: { type: 'string', default: join(root, 'infra/lab/two-branches.json') },
      'size-mb': { type: 'string', default: '20' },
      'no-multicast': { type: 'boolean', default: false },
      'start-delay-seconds': { type: 'string' },
      'no-topology': { type: 'boolean', default: false },
      'wan-tolerance': { type: 'string', default: '0.05' },
      'time-tolerance': { type: 'string', default: '0.25' },
      json: { type: 'boolean', default: false },
    },
  }));
} catch (error) {
  usage(error.message);
}
const sizeMb = Number(opts['size-mb']);
if (!(sizeMb > 0)) usage(`--size-mb must be a number above 0 (got "${opts['size-mb']}")`);
const startDelay = opts['start-delay-seconds'] === undefined ? undefined : Number(opts['start-delay-seconds']);
if (startDelay !== undefined && !(Number.isInteger(startDelay) && startDelay >= 0 && startDelay <= 3600)) usage('--start-delay-seconds must be a whole number from 0 to 3600');
const wanTolerance = Number(opts['wan-tolerance']);
const timeTolerance = Number(opts['time-tolerance']);
if (!(wanTolerance > 0) || !(timeTolerance > 0)) usage('--wan-tolerance and --time-tolerance must be numbers above 0');
requireBuilt(root, BUILT);
const spec = JSON.parse(readFileSync(opts.spec, 'utf8'));
const testing = require(join(root, 'libs/testing/dist/index.js'));

/** The lab as an administrator would describe it: the core network is the central office, each branch an office behind its WAN link. */
export function topologyOfLab(labSpec, originAddress) {
  return {
    schemaVersion: 1,
    origin: { addresses: [originAddress] },
    offices: [
      { id: 'core', name: 'Core network', subnets: [labSpec.core.subnet] },
      ...labSpec.branches.map((b) => ({ id: b.name, name: b.name, parent: 'core', subnets: [b.subnet], wan: { bandwidthKbps: Math.round(b.wan.rateMbit * 1000) } })),
    ],
  };
}

const pct = (measured, planned) => (planned === 0 ? (measured === 0 ? 0 : Infinity) : (measured - planned) / planned);
const fmtPct = (x) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
const mib = (n) => `${(n / MIB).toFixed(2)} MiB`;

async function main(run) {
  const availability = await testing.labAvailable();
  if (!availability.ok) {
    console.error(`cannot build a lab on this machine: ${availability.reason}`);
    return EXIT_UNAVAILABLE;
  }
  run.db = await testing.createTestDatabase('fleetcast_plan');
  const work = (run.work = await mkdtemp(join(tmpdir(), 'fleetcast-plan-check-')));
  const lab = (run.lab = await testing.createLab(spec));
  const host = await lab.attachHost();
  say(`lab ${lab.name}: ${lab.branches.map((b) => `${b.name} ${b.subnet} (${b.devices.length} devices)`).join(', ')}; starting the stack`);
  const stack = (run.stack = await testing.startLabStack({ lab, databaseUrl: run.db.url, apiToken: randomBytes(16).toString('hex'), workDir: work, agentArgs: opts['no-multicast'] ? ['--no-multicast'] : [] }));
  if (!opts['no-topology']) {
    const version = await stack.api.ok('POST', '/v1/topology', topologyOfLab(spec, host.address));
    say(`topology version ${version.version} uploaded: ${version.summary.text}`);
  }
  const profile = startDelay === undefined ? undefined : { useMulticast: true, sessionStartDelaySeconds: startDelay };
  const distribution = await testing.startLabDistribution({ stack, lab, packageBytes: Math.round(sizeMb * MIB), action: 'cache-only', ...(profile ? { profile } : {}) });
  const task = await stack.api.ok('GET', `/v1/tasks/${distribution.taskId}`);
  const rates = spec.branches.map((b) => b.wan.rateMbit);
  const plan = await stack.api.ok('POST', '/v1/plans', {
    packageId: task.packageId,
    targets: { deviceIds: stack.agents.map((a) => a.deviceId) },
    ...(task.profileId ? { profileId: task.profileId } : {}),
    // Agents started with --no-multicast take no part in sessions whatever the profile says.
    ...(opts['no-multicast'] ? { settings: { useMulticast: false } } : {}),
    ...(opts['no-topology'] ? { defaultWanBandwidthKbps: Math.round(Math.min(...rates) * 1000) } : {}),
  });
  const report = await distribution.finish();

  const rows = [];
  for (const s of report.subnets) {
    const planned = plan.subnets.find((p) => p.subnet === s.subnet);
    if (!planned) throw new Error(`the plan has no subnet ${s.subnet}`);
    const seconds = Math.max(...report.devices.filter((d) => d.subnet === s.subnet).map((d) => d.seconds ?? Infinity));
    rows.push({ what: s.subnet, plannedWan: planned.withSharing.wanBytes, measuredWan: s.wanBytes, plannedSeconds: planned.withSharing.seconds, measuredSeconds: seconds });
  }
  rows.push({ what: 'all', plannedWan: plan.withSharing.wanBytes, measuredWan: report.totals.wanBytes, plannedSeconds: plan.withSharing.seconds, measuredSeconds: report.totals.seconds ?? Infinity });
  for (const r of rows) {
    r.wanError = pct(r.measuredWan, r.plannedWan);
    r.timeError = pct(r.measuredSeconds, r.plannedSeconds);
    r.ok = Math.abs(r.wanError) <= wanTolerance && Math.abs(r.timeError) <= timeTolerance;
  }
  const header = ['', 'planned WAN', 'measured WAN', 'error', 'planned time', 'measured time', 'error', ''];
  const table = [header, ...rows.map((r) => [r.what, mib(r.plannedWan), mib(r.measuredWan), fmtPct(r.wanError), `${r.plannedSeconds.toFixed(1)} s`, `${r.measuredSeconds.toFixed(1)} s`, fmtPct(r.timeError), r.ok ? 'ok' : 'MISS'])];
  const widths = header.map((_, i) => Math.max(...table.map((row) => row[i].length)));
  console.log(`\nplan (${opts['no-multicast'] ? 'no multicast' : `multicast, start delay ${plan.settings.sessionStartDelaySeconds} s`}; ${report.totals.done}/${report.totals.devices} devices done) against the lab's measurement; bounds WAN ${(wanTolerance * 100).toFixed(0)} %, time ${(timeTolerance * 100).toFixed(0)} %`);
  for (const row of table) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '));
  console.log(`plan without sharing: ${mib(plan.withoutSharing.wanBytes)} over the WAN, ${plan.withoutSharing.seconds.toFixed(1)} s; saved ${mib(plan.savedWanBytes)}`);
  if (opts.json) console.log(JSON.stringify({ spec: spec.name, sizeMb, multicast: !opts['no-multicast'], rows, plan }));
  return rows.every((r) => r.ok) && report.totals.done === report.totals.devices ? 0 : 1;
}

runInLab({ testing, spec, specPath: opts.spec, say, main });
