#!/usr/bin/env node
// Scale-out benchmark (docs/scaling.md): a 3-node NATS cluster at the core (every stream in three
// copies), --leaves branch leaf nodes (each its own nats-server), and --devices simulated agents
// spread over the leaves in a few worker processes. The simulated agents are lightweight: one NATS
// connection per 1,000 devices (replies under a device inbox prefix, as the leaf's link carries
// only those), a subscription per device to its own assignments, a scan and a status report per
// device; they run no downloads. The inventory, tasks and origin services run on the core.
// Prints: inventory scans persisted per second; one task (an inventory query) fanned out to every
// device until each acknowledged (reported `queued`); the task summary's query time at that size;
// each service's resident memory; then a second task during which the core node leading the
// assignment stream is killed and restarted: its time, and whether anything was lost or applied
// twice.
// Usage: npm run bench:scale [-- --devices 100000 --leaves 20 --workers 4 --kill-after-ms 2000]
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: opts } = parseArgs({
  options: {
    devices: { type: 'string', default: '100000' },
    leaves: { type: 'string', default: '20' },
    workers: { type: 'string', default: '4' },
    'kill-after-ms': { type: 'string', default: '2000' },
    'agent-worker': { type: 'boolean', default: false },
  },
});
/** Devices per simulated-agent connection. */
const PER_CONNECTION = 1000;
const deviceId = (n) => `scale-${String(n).padStart(6, '0')}`;

if (opts['agent-worker']) await agentWorker();
else await main();

/** Simulated agents of one worker: a connection per 1,000 devices, each to a leaf in turn. */
async function agentWorker() {
  const { connect, credsAuthenticator } = await import('nats');
  const { InventoryScanSubmitted, TaskAssigned, DeviceStatusReported } = await import(`${root}/libs/contracts/dist/index.js`);
  const { from, count, leafUrls, credsFile, worker, jsDomain } = JSON.parse(process.env.BENCH_SCALE_WORKER);
  const ids = Array.from({ length: count }, (_, i) => deviceId(from + i));
  const authenticator = credsAuthenticator(readFileSync(credsFile));
  const conns = [];
  for (let i = 0; i < ids.length; i += PER_CONNECTION) {
    const c = conns.length;
    conns.push(
      await connect({
        servers: leafUrls[(worker + c) % leafUrls.length],
        name: `bench-scale-${worker}-${c}`,
        authenticator,
        // A leaf's link to the core carries replies only under device inboxes.
        inboxPrefix: `_INBOX.device.bench-${worker}-${c}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      }),
    );
  }
  const js = conns.map((nc) => nc.jetstream({ domain: jsDomain, timeout: 30_000 }));
  const received = new Map();
  let duplicates = 0;
  let failedPublishes = 0;
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  /** Publishes with retries: through a leader election a publish may time out; the ID makes a repeat harmless. */
  const publish = async (c, subject, payload, msgID) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await js[c].publish(subject, payload, { msgID });
        return;
      } catch (error) {
        if (attempt >= 20) throw error;
        await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
      }
    }
  };
  const pending = new Set();
  const track = (p) => {
    const q = p.catch(() => failedPublishes++).finally(() => pending.delete(q));
    pending.add(q);
  };
  ids.forEach((id, i) => {
    const c = Math.floor(i / PER_CONNECTION);
    conns[c].subscribe(TaskAssigned.deviceFilter(id), {
      callback: (err, msg) => {
        if (err) return;
        const a = JSON.parse(dec.decode(msg.data)).assignment.document;
        const key = `${a.taskId}/${id}`;
        if (received.has(key)) {
          duplicates++;
          return;
        }
        received.set(key, Date.now());
        const report = { taskId: a.taskId, deviceId: id, seq: 1, state: 'queued', reportedAt: new Date().toISOString(), bytes: { origin: 0, multicast: 0, peer: 0 }, reason: null, hashVerified: false, exitCode: null, outputTail: null };
        track(publish(c, DeviceStatusReported.subject(id), enc.encode(JSON.stringify(report)), `bench-${key}`));
      },
    });
  });
  await Promise.all(conns.map((c) => c.flush()));
  process.on('message', async (cmd) => {
    if (cmd.type === 'scan') {
      const t0 = Date.now();
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        const n = cmd.offset + i;
        const scan = {
          deviceId: id, scanSeq: 1, scannedAt: new Date().toISOString(), hostname: `host-${id}`, platform: 'windows', osVersion: '10.0.19045', agentVersion: '0.1.0',
          interfaces: [{ name: 'eth0', mac: null, gateway: null, addresses: [{ family: 'ipv4', address: `10.${Math.floor(n / 62500) % 250}.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`, prefixLength: 24 }] }],
          cache: { contentIds: [], freeBytes: 10_000_000_000 },
        };
        track(publish(Math.floor(i / PER_CONNECTION), InventoryScanSubmitted.subject(id), enc.encode(JSON.stringify(scan)), `scan-${id}-1`));
        // A bounded number in flight, so the worker's memory stays flat.
        if (pending.size >= 4000) await Promise.race(pending);
      }
      await Promise.all(pending);
      process.send({ type: 'scanned', ms: Date.now() - t0 });
    }
    if (cmd.type === 'count') {
      await Promise.all(pending);
      process.send({ type: 'count', received: [...received.keys()].filter((k) => k.startsWith(`${cmd.taskId}/`)).length, duplicates, failedPublishes });
    }
    if (cmd.type === 'rss') process.send({ type: 'rss', rss: process.memoryUsage().rss });
    if (cmd.type === 'exit') {
      await Promise.all(conns.map((c) => c.close()));
      process.exit(0);
    }
  });
  process.send({ type: 'ready' });
}

async function main() {
  const testing = await import(`${root}/libs/testing/dist/index.js`);
  const { connect } = await import('nats');
  const { RpcClient } = await import(`${root}/libs/nats/dist/index.js`);
  const { TasksRpc, InventoryRpc, Streams } = await import(`${root}/libs/contracts/dist/index.js`);
  const pg = (await import('pg')).default;
  const devices = Number(opts.devices);
  const leafCount = Number(opts.leaves);
  const workers = Number(opts.workers);
  const killAfterMs = Number(opts['kill-after-ms']);
  if (![devices, leafCount, workers].every((n) => Number.isInteger(n) && n > 0)) {
    console.error('--devices, --leaves and --workers take positive integers');
    process.exit(64);
  }
  const line = (s) => console.log(`[scale] ${s}`);
  const seconds = (ms) => (ms / 1000).toFixed(2);
  const rssOf = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

  const t00 = Date.now();
  const core = await testing.startNatsCluster({ size: 3 });
  const leaves = [];
  for (let i = 0; i < leafCount; i++) leaves.push(await testing.startNatsLeaf({ core: { leafUrls: core.leafUrls, trustDir: core.trust.dir, jetstreamDomain: core.jetstreamDomain } }));
  line(`core: 3 nats-servers (JetStream cluster, 3 replicas); ${leafCount} leaf nodes; up in ${seconds(Date.now() - t00)} s`);
  const db = await testing.createTestDatabase('bench_scale');
  const procs = {};
  const children = [];
  const start = async (name, script, env) => {
    const p = await testing.spawnNodeProcess(`${root}/${script}`, {
      name,
      env: { NATS_URL: core.url, DATABASE_URL: db.url, LOG_LEVEL: 'warn', JETSTREAM_REPLICAS: '3', NATS_CREDS_FILE: core.trust.credsFile(name.replace(/-\d+$/, '')), ...env },
    });
    procs[name] = p;
    return p;
  };
  const ready = async (port, name) => {
    let last = 'no answer';
    try {
      await testing.waitFor(
        async () => fetch(`http://127.0.0.1:${port}/readyz`).then(async (r) => ((last = `${r.status} ${await r.text()}`), r.ok), () => false),
        { timeoutMs: 60_000, description: `${name} ready` },
      );
    } catch (error) {
      throw new Error(`${name} not ready in 60 s (last /readyz: ${last}); ${procs[name].describe()}`, { cause: error });
    }
  };
  try {
    const originPort = await testing.freePort();
    const originUrl = `http://127.0.0.1:${originPort}`;
    const originToken = 'bench-origin-token';
    await start('origin', 'services/origin/dist/src/main.js', { HTTP_PORT: String(originPort), HTTP_HOST: '127.0.0.1', API_TOKENS: originToken, ORIGIN_STORE_DIR: `${core.nodes[0].storeDir}-origin` });
    await ready(originPort, 'origin');
    const stored = await (await fetch(`${originUrl}/v1/content`, { method: 'PUT', headers: { authorization: `Bearer ${originToken}`, 'content-type': 'application/octet-stream' }, body: Buffer.from('bench content') })).json();
    const inventoryPort = await testing.freePort();
    await start('inventory', 'services/inventory/dist/src/main.js', { HTTP_PORT: String(inventoryPort) });
    const tasksPort = await testing.freePort();
    // A pool sized for ingestion at this scale (docs/scaling.md).
    await start('tasks', 'services/tasks/dist/src/main.js', { HTTP_PORT: String(tasksPort), ORIGIN_PUBLIC_URL: originUrl, ORIGIN_URL: originUrl });
    await Promise.all([ready(inventoryPort, 'inventory'), ready(tasksPort, 'tasks')]);
    const nc = await connect({ ...core.adminConnectOptions(), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const rpc = new RpcClient(nc);

    const per = Math.ceil(devices / workers);
    const t0 = Date.now();
    for (let w = 0; w < workers; w++) {
      const count = Math.max(0, Math.min(per, devices - w * per));
      const child = fork(fileURLToPath(import.meta.url), ['--agent-worker'], {
        env: { ...process.env, BENCH_SCALE_WORKER: JSON.stringify({ from: w * per, count, leafUrls: leaves.map((l) => l.url), credsFile: core.trust.credsFile('admin'), worker: w, jsDomain: core.jetstreamDomain }) },
      });
      await new Promise((r) => child.once('message', r));
      children.push({ child, offset: w * per });
    }
    const ask = (type, extra = {}) => Promise.all(children.map(({ child, offset }) => new Promise((r) => { child.once('message', r); child.send({ type, offset, ...extra }); })));
    line(`${devices.toLocaleString('en')} simulated agents in ${workers} processes, ${Math.ceil(devices / PER_CONNECTION)} connections over ${leafCount} leaves; subscribed in ${seconds(Date.now() - t0)} s`);

    // 1. Inventory scans, one per device, through the leaves into the core's replicated stream.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const stored_ = async () => (await client.query('SELECT count(*)::int AS n FROM inventory.devices')).rows[0].n;
    const ts = Date.now();
    await ask('scan');
    const tsPublished = Date.now();
    await testing.waitFor(async () => (await stored_()) >= devices, { timeoutMs: 900_000, intervalMs: 250, description: 'every scan stored' });
    const tsStored = Date.now();
    line(`inventory scans: ${devices.toLocaleString('en')} published in ${seconds(tsPublished - ts)} s, all stored after ${seconds(tsStored - ts)} s => ${Math.round(devices / ((tsStored - ts) / 1000))} scans/s`);

    // 2. One task to every device (an inventory query, resolved a page at a time).
    const fanOut = async (label, during) => {
      const pkg = await rpc.call(TasksRpc.createPackage, { name: 'bench-scale', version: label, platform: 'windows', installCommand: 'setup.exe' });
      await rpc.call(TasksRpc.attachContent, { packageId: pkg.id, contentId: stored.contentId });
      const t1 = Date.now();
      const task = await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'cache-only', targets: { query: { platform: 'windows' } } }, { timeoutMs: 600_000 });
      const tCreated = Date.now();
      const side = during ? during() : Promise.resolve();
      let last = 0;
      await testing.waitFor(
        async () => {
          const s = await rpc.call(TasksRpc.getTaskSummary, { id: task.id }, { timeoutMs: 30_000 }).catch(() => null);
          if (s) last = s.counts.queued;
          return s !== null && s.counts.queued === devices;
        },
        { timeoutMs: 900_000, intervalMs: 500, description: `all ${devices} devices acknowledge (last ${last})` },
      );
      const tAcked = Date.now();
      await side;
      const counts = await ask('count', { taskId: task.id });
      const received = counts.reduce((a, c) => a + c.received, 0);
      const duplicates = counts.reduce((a, c) => a + c.duplicates, 0);
      const failed = counts.reduce((a, c) => a + c.failedPublishes, 0);
      const [{ applied }] = (await client.query(`SELECT count(*)::int AS applied FROM tasks.device_tasks WHERE task_id = $1 AND seq = 1 AND state = 'queued'`, [task.id])).rows;
      line(
        `fan-out (${label}): task of ${devices.toLocaleString('en')} created in ${seconds(tCreated - t1)} s; all acknowledged ${seconds(tAcked - t1)} s after the request; ` +
          `assignments received ${received}, delivered twice ${duplicates}; reports applied ${applied} (each once: seq 1), publishes given up ${failed}`,
      );
      return task;
    };
    const task = await fanOut('all nodes up');
    const times = [];
    for (let i = 0; i < 5; i++) {
      const t = Date.now();
      await rpc.call(TasksRpc.getTaskSummary, { id: task.id });
      times.push(Date.now() - t);
    }
    times.sort((a, b) => a - b);
    line(`task summary at ${devices.toLocaleString('en')} devices: median ${times[2]} ms over NATS (of 5: ${times.join(', ')} ms)`);
    const workerRss = await ask('rss');
    line(
      `resident memory: inventory ${Math.round(rssOf(procs.inventory.pid))} MiB, tasks ${Math.round(rssOf(procs.tasks.pid))} MiB, origin ${Math.round(rssOf(procs.origin.pid))} MiB; ` +
        `core nats-servers ${core.nodes.map((n) => Math.round(rssOf(n.pid))).join(', ')} MiB; leaves ${Math.round(leaves.reduce((a, l) => a + rssOf(l.pid), 0) / leafCount)} MiB each on average; ` +
        `simulated agents ${Math.round(workerRss.reduce((a, r) => a + r.rss, 0) / 1024 / 1024)} MiB in all`,
    );

    // 3. The same with the core node leading the assignment stream killed during the fan-out.
    await fanOut('a core node killed', async () => {
      await new Promise((r) => setTimeout(r, killAfterMs));
      const jsm = await nc.jetstreamManager();
      const leader = (await jsm.streams.info(Streams.taskAssignments.name)).cluster?.leader;
      const victim = core.nodes.find((n) => leader === `fleetcast-test-${n.port}`) ?? core.nodes[0];
      await victim.halt({ signal: 'SIGKILL' });
      line(`  killed core node ${leader} (the assignment stream's leader) ${killAfterMs} ms after the task was created; restarting it in 10 s`);
      await new Promise((r) => setTimeout(r, 10_000));
      await victim.start();
    });
    await client.end();
    for (const { child } of children) child.send({ type: 'exit' });
    await nc.close();
  } finally {
    for (const { child } of children) child.kill();
    for (const p of Object.values(procs)) await p.stop().catch(() => undefined);
    for (const l of leaves) await l.stop();
    await core.stop();
    await db.drop();
  }
}
