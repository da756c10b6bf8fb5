#!/usr/bin/env node
// Control-plane benchmark: thousands of simulated agents (lightweight NATS clients spread over a few
// worker processes) send inventory scans and receive one task.
// Prints: scans ingested per second, time to fan one task out to N devices until all acknowledge,
// the same with two tasks instances, the resident memory of each service, and enrollments per
// second. By default it runs twice in one invocation, on an open NATS server and on one in
// operator mode (every service with its own credentials and permissions), and prints the ratios.
// The simulated agents share a connection per 1,000 devices (as an unrestricted user in operator
// mode): what authentication costs the services and the server, not 10,000 TLS-less handshakes.
// Usage: npm run bench:control-plane [-- --devices 10000 --scans-per-device 2 --workers 4 --auth both|open|operator --enrollments 1000]
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: opts } = parseArgs({
  options: {
    devices: { type: 'string', default: '10000' },
    'scans-per-device': { type: 'string', default: '2' },
    workers: { type: 'string', default: '4' },
    auth: { type: 'string', default: 'both' },
    enrollments: { type: 'string', default: '1000' },
    'agent-worker': { type: 'boolean', default: false },
  },
});

if (opts['agent-worker']) await agentWorker();
else await main();

/** Simulated agents: one NATS connection per 1,000 devices, a subscription per device. */
async function agentWorker() {
  const { connect, credsAuthenticator } = await import('nats');
  const { InventoryScanSubmitted, TaskAssigned, DeviceStatusReported } = await import(`${root}/libs/contracts/dist/index.js`);
  const ids = JSON.parse(process.env.BENCH_DEVICE_IDS);
  const natsUrl = process.env.NATS_URL;
  const creds = process.env.BENCH_CREDS_FILE;
  const auth = creds ? { authenticator: credsAuthenticator(readFileSync(creds)) } : {};
  const conns = [];
  for (let i = 0; i < ids.length; i += 1000) conns.push(await connect({ servers: natsUrl, name: `bench-agents-${process.pid}-${i}`, ...auth }));
  const received = new Map();
  let duplicates = 0;
  const enc = new TextEncoder();
  ids.forEach((id, i) => {
    const nc = conns[Math.floor(i / 1000)];
    nc.subscribe(TaskAssigned.deviceFilter(id), {
      callback: (err, msg) => {
        if (err) return;
        // Version 2: the task is named in the signed document (the bench does not verify it; the agent does).
        const a = JSON.parse(new TextDecoder().decode(msg.data)).assignment.document;
        const key = `${a.taskId}/${id}`;
        if (received.has(key)) { duplicates++; return; }
        received.set(key, Date.now());
        const report = { taskId: a.taskId, deviceId: id, seq: 1, state: 'queued', reportedAt: new Date().toISOString(), bytes: { origin: 0, multicast: 0, peer: 0 }, reason: null, hashVerified: false, exitCode: null, outputTail: null };
        nc.jetstream().publish(DeviceStatusReported.subject(id), enc.encode(JSON.stringify(report)), { msgID: `bench-${key}` }).catch((e) => console.error(e.message));
      },
    });
  });
  await Promise.all(conns.map((c) => c.flush()));
  process.on('message', async (cmd) => {
    if (cmd.type === 'scan') {
      const t0 = Date.now();
      const pending = [];
      for (let round = 0; round < cmd.rounds; round++) {
        ids.forEach((id, i) => {
          const nc = conns[Math.floor(i / 1000)];
          const octet = (cmd.offset + i) % 250;
          const scan = {
            deviceId: id, scanSeq: (cmd.seqBase ?? 0) + round + 1, scannedAt: new Date().toISOString(), hostname: `host-${id}`, platform: 'windows', osVersion: '10.0.19045', agentVersion: '0.1.0',
            interfaces: [{ name: 'eth0', mac: null, gateway: null, addresses: [{ family: 'ipv4', address: `10.${Math.floor((cmd.offset + i) / 62500) % 250}.${Math.floor((cmd.offset + i) / 250) % 250}.${octet + 1}`, prefixLength: 24 }] }],
            cache: { contentIds: [], freeBytes: 10_000_000_000 },
          };
          pending.push(nc.jetstream().publish(InventoryScanSubmitted.subject(id), enc.encode(JSON.stringify(scan)), { msgID: `scan-${id}-${(cmd.seqBase ?? 0) + round}` }));
          if (pending.length >= 2000) pending.splice(0).forEach((p) => p.catch((e) => console.error(e.message)));
        });
        await Promise.all(pending.splice(0));
      }
      process.send({ type: 'scanned', ms: Date.now() - t0 });
    }
    if (cmd.type === 'count') process.send({ type: 'count', received: received.size, duplicates });
    if (cmd.type === 'exit') { await Promise.all(conns.map((c) => c.drain())); process.exit(0); }
  });
  process.send({ type: 'ready' });
}

async function main() {
  const modes = opts.auth === 'both' ? ['open', 'operator'] : [opts.auth];
  if (!modes.every((m) => m === 'open' || m === 'operator')) throw new Error('--auth takes open, operator or both');
  const results = {};
  for (const mode of modes) {
    console.log(`\n== NATS ${mode === 'open' ? 'open (no credentials)' : 'in operator mode (credentials and permissions)'}`);
    results[mode] = await run(mode);
  }
  if (results.open && results.operator) {
    const r = (k) => (results.operator[k] / results.open[k]).toFixed(2);
    console.log(`\n== operator mode / open, same run: scans/s live ${r('liveRate')}, scans/s backlog ${r('backlogRate')}, fan-out time one instance ${r('fanOutOne')}, two instances ${r('fanOutTwo')}`);
  }
}

async function run(mode) {
  const testing = await import(`${root}/libs/testing/dist/index.js`);
  const { connect } = await import('nats');
  const { RpcClient } = await import(`${root}/libs/nats/dist/index.js`);
  const { TasksRpc, InventoryRpc, EnrollmentRpc } = await import(`${root}/libs/contracts/dist/index.js`);
  const { createDeviceKey } = await import(`${root}/libs/trust/dist/index.js`);
  const pg = (await import('pg')).default;
  const devices = Number(opts.devices);
  const rounds = Number(opts['scans-per-device']);
  const workers = Number(opts.workers);
  const line = (s) => console.log(s);
  const result = {};

  const nats = await testing.startNatsServer({ auth: mode });
  const db = await testing.createTestDatabase('bench');
  const procs = [];
  const credsOf = (role) => (nats.trust ? { NATS_CREDS_FILE: nats.trust.credsFile(role) } : {});
  const start = async (name, script, env) => {
    const p = await testing.spawnNodeProcess(`${root}/${script}`, { name, env: { NATS_URL: nats.url, DATABASE_URL: db.url, LOG_LEVEL: 'warn', ...env } });
    procs.push(p);
    return p;
  };
  try {
    const port = () => testing.freePort();
    // The origin holds one small content that every bench package attaches (the tasks service reads its block hashes there).
    const originPort = await port();
    const originUrl = `http://127.0.0.1:${originPort}`;
    const originToken = 'bench-origin-token';
    const origin = await start('origin', 'services/origin/dist/src/main.js', { HTTP_PORT: String(originPort), HTTP_HOST: '127.0.0.1', API_TOKENS: originToken, ORIGIN_STORE_DIR: `${nats.storeDir}-origin` });
    await testing.waitFor(async () => fetch(`${originUrl}/readyz`).then((r) => r.ok, () => false), { timeoutMs: 30000, description: 'origin ready' });
    const stored = await (await fetch(`${originUrl}/v1/content`, { method: 'PUT', headers: { authorization: `Bearer ${originToken}`, 'content-type': 'application/octet-stream' }, body: Buffer.from('bench content') })).json();
    const inventoryPort = await port();
    let inventory = await start('inventory', 'services/inventory/dist/src/main.js', { HTTP_PORT: String(inventoryPort), ...credsOf('inventory') });
    const portA = await port();
    const tasksEnv = { ORIGIN_PUBLIC_URL: originUrl, ...credsOf('tasks') };
    const tasksA = await start('tasks-1', 'services/tasks/dist/src/main.js', { HTTP_PORT: String(portA), ...tasksEnv });
    // Reports each tasks instance handled, from its own /metrics.
    const handled = async (p) => {
      const text = await (await fetch(`http://127.0.0.1:${p}/metrics`)).text();
      const m = /fleetcast_messages_processed_total\{[^}]*consumer="tasks-status-ingest"[^}]*\} (\d+)/.exec(text);
      return m ? Number(m[1]) : 0;
    };
    const nc = await connect(nats.adminConnectOptions());
    const rpc = new RpcClient(nc);
    await testing.waitFor(async () => rpc.call(TasksRpc.listProfiles, {}).then(() => true, () => false), { timeoutMs: 30000, description: 'tasks service answers' });
    await testing.waitFor(async () => rpc.call(InventoryRpc.listSubnets, {}).then(() => true, () => false), { timeoutMs: 30000, description: 'inventory service answers' });

    const ids = Array.from({ length: devices }, (_, i) => `bench-${String(i).padStart(6, '0')}`);
    const per = Math.ceil(devices / workers);
    const children = [];
    for (let w = 0; w < workers; w++) {
      const slice = ids.slice(w * per, (w + 1) * per);
      const child = fork(fileURLToPath(import.meta.url), ['--agent-worker'], {
        env: { ...process.env, NATS_URL: nats.url, BENCH_DEVICE_IDS: JSON.stringify(slice), ...(nats.trust ? { BENCH_CREDS_FILE: nats.trust.credsFile('admin') } : {}) },
      });
      await new Promise((r) => child.once('message', r));
      children.push({ child, offset: w * per });
    }
    const ask = (type, extra = {}) => Promise.all(children.map(({ child, offset }) => new Promise((r) => { child.once('message', r); child.send({ type, offset, ...extra }); })));
    line(`devices: ${devices} simulated agents in ${workers} processes`);

    // 1. Inventory scans: published as fast as the agents can; rate = scans persisted / time.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    // Each device's scan_seq is the number of its scans applied so far (scans are numbered 1, 2, 3 ...).
    const persisted = async () => (await client.query(`SELECT coalesce(sum(scan_seq), 0)::int AS n FROM inventory.devices`)).rows[0].n;
    const t0 = Date.now();
    await ask('scan', { rounds });
    const tPublished = Date.now();
    await testing.waitFor(async () => (await persisted()) >= devices * rounds, { timeoutMs: 300000, intervalMs: 100, description: 'all scans persisted' });
    const tIngested = Date.now();
    const scans = devices * rounds;
    result.liveRate = scans / ((tIngested - t0) / 1000);
    line(`inventory scans, live: ${scans} published in ${((tPublished - t0) / 1000).toFixed(2)} s; all persisted after ${((tIngested - t0) / 1000).toFixed(2)} s => ${Math.round(scans / ((tIngested - t0) / 1000))} scans/s persisted (bounded by the publishers)`);

    // 1b. Ingestion alone: one scan per device waits in the stream while the inventory is down, then
    // drains (one scan per device, so every scan is a row written, none merged into another).
    await inventory.stop();
    await ask('scan', { rounds: 1, seqBase: rounds });
    inventory = await start('inventory', 'services/inventory/dist/src/main.js', { HTTP_PORT: String(inventoryPort), ...credsOf('inventory') });
    await testing.waitFor(async () => fetch(`http://127.0.0.1:${inventoryPort}/readyz`).then((r) => r.ok, () => false), { timeoutMs: 30000, intervalMs: 20, description: 'inventory ready' });
    const t2 = Date.now();
    await testing.waitFor(async () => (await persisted()) >= devices * (rounds + 1), { timeoutMs: 300000, intervalMs: 50, description: 'backlog persisted' });
    const drain = (Date.now() - t2) / 1000;
    result.backlogRate = devices / drain;
    line(`inventory scans, backlog: ${devices} queued scans persisted in ${drain.toFixed(2)} s after the service was ready => ${Math.round(devices / drain)} scans/s persisted`);

    // 2. One task to every device; acknowledged = every device reported `queued`.
    const fanOut = async (label) => {
      const pkg = await rpc.call(TasksRpc.createPackage, { name: 'bench', version: label, platform: 'windows', installCommand: 'setup.exe' });
      await rpc.call(TasksRpc.attachContent, { packageId: pkg.id, contentId: stored.contentId });
      const t1 = Date.now();
      const task = await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'cache-only', targets: { deviceIds: ids } }, { timeoutMs: 60000 });
      const tCreated = Date.now();
      let last = 0;
      await testing.waitFor(async () => {
        const s = await rpc.call(TasksRpc.getTaskSummary, { id: task.id });
        last = s.counts.queued;
        return s.counts.queued === devices;
      }, { timeoutMs: 120000, intervalMs: 100, description: `all ${devices} devices acknowledge (last ${last})` });
      const tAcked = Date.now();
      const counts = await ask('count');
      const received = counts.reduce((a, c) => a + c.received, 0);
      const duplicates = counts.reduce((a, c) => a + c.duplicates, 0);
      line(`fan-out (${label}): task created in ${((tCreated - t1) / 1000).toFixed(2)} s; ${devices} devices acknowledged ${((tAcked - t1) / 1000).toFixed(2)} s after the request; assignments received so far ${received}, duplicates ${duplicates}`);
      return (tAcked - t1) / 1000;
    };
    const one = await fanOut('one tasks instance');
    result.fanOutOne = one;

    // 3. A second tasks instance: the consumer and the outbox are shared; nothing is processed twice.
    const portB = await port();
    const tasksB = await start('tasks-2', 'services/tasks/dist/src/main.js', { HTTP_PORT: String(portB), ...tasksEnv });
    await testing.waitFor(async () => fetch(`http://127.0.0.1:${portB}/readyz`).then((r) => r.ok, () => false), { timeoutMs: 30000, description: 'second tasks instance ready' });
    const beforeA = await handled(portA);
    const two = await fanOut('two tasks instances');
    result.fanOutTwo = two;
    const [a, b] = [(await handled(portA)) - beforeA, await handled(portB)];
    line(`status reports handled in the second fan-out: tasks-1 ${a}, tasks-2 ${b}, sum ${a + b} for ${devices} reports (${a + b - devices} processed twice)`);
    line(`fan-out time ratio, two instances / one instance: ${(two / one).toFixed(2)}`);

    const rss = (p) => {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
      return m ? `${Math.round(Number(m[1]) / 1024)} MiB` : 'n/a';
    };
    line(`resident memory: inventory ${rss(inventory)}, tasks-1 ${rss(tasksA)}, tasks-2 ${rss(tasksB)}, origin ${rss(origin)}`);

    // 4. Enrollments (operator mode): token check, seat, device row and outbox event in one
    // transaction, then a user JWT signed for the device's key. Called over NATS as the gateway
    // would, from a few concurrent callers (enrollments serialise on the seat allocation lock).
    const enrollments = Number(opts.enrollments);
    if (nats.trust && enrollments > 0) {
      const licensingPort = await port();
      const license = testing.issueTrialLicense(mkdtempSync(join(tmpdir(), 'fleetcast-bench-license-')), enrollments + 10);
      await start('licensing', 'services/licensing/dist/src/main.js', {
        HTTP_PORT: String(licensingPort), ...credsOf('licensing'), TRUST_DIR: nats.trust.dir, LICENSE_PUBLIC_KEY: license.publicKey, LICENSE_KEY: license.licenseKey,
      });
      await testing.waitFor(async () => fetch(`http://127.0.0.1:${licensingPort}/readyz`).then((r) => r.ok, () => false), { timeoutMs: 30000, description: 'licensing ready' });
      const { token } = await rpc.call(EnrollmentRpc.createToken, { name: 'bench', maxUses: enrollments });
      const keys = Array.from({ length: enrollments }, () => createDeviceKey().publicKey);
      const concurrency = 16;
      let next = 0;
      const te = Date.now();
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < enrollments) {
          const i = next++;
          await rpc.call(EnrollmentRpc.enroll, { token, deviceId: `enroll-${String(i).padStart(6, '0')}`, publicKey: keys[i], hostname: `h${i}`, platform: 'linux', agentVersion: '0.1.0' });
        }
      }));
      const seconds = (Date.now() - te) / 1000;
      result.enrollRate = enrollments / seconds;
      line(`enrollments: ${enrollments} devices enrolled in ${seconds.toFixed(2)} s by ${concurrency} concurrent callers => ${Math.round(enrollments / seconds)} enrollments/s`);
    }
    await client.end();
    for (const { child } of children) child.send({ type: 'exit' });
    await nc.close();
  } finally {
    for (const p of procs) await p.stop().catch(() => undefined);
    await nats.stop();
    await db.drop();
  }
  return result;
}
