#!/usr/bin/env node
// Integrations benchmark: what the topology and webhooks services sustain on this machine, each
// against a baseline measured in the same run.
// - Placement: N devices' scans published into INVENTORY_SCANS; the time until the topology service
//   has placed every device in its office, next to the time until the inventory service (reading
//   the same stream with its own consumer) has stored every device.
// - Webhooks: N device.enrolled events published as the licensing outbox publishes them; deliveries
//   per second until a local receiver has every one, next to plain HTTP POSTs of the same bodies
//   from this process to the same receiver at the same concurrency (what the receiver takes).
// The whole stack runs as processes, NATS in operator mode, Postgres on localhost.
// Usage: npm run bench:integrations [-- --devices 10000 --deliveries 2000]
import { createServer, request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: opts } = parseArgs({ options: { devices: { type: 'string', default: '10000' }, deliveries: { type: 'string', default: '2000' } } });
const DEVICES = Number(opts.devices);
const DELIVERIES = Number(opts.deliveries);
/** The webhooks service's default concurrency: the baseline posts with as many in flight. */
const CONCURRENCY = 16;

const testing = await import(`${root}/libs/testing/dist/index.js`);
const { DeviceEnrolled, InventoryScanSubmitted } = await import(`${root}/libs/contracts/dist/index.js`);
const { connect } = await import('nats');

const say = (text) => console.log(`[bench] ${text}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function pollUntil(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const nats = await testing.startNatsServer();
const database = await testing.createTestDatabase('bench_integrations');
const work = mkdtempSync(join(tmpdir(), 'fleetcast-bench-integrations-'));
const token = randomBytes(16).toString('hex');
const cp = await testing.startControlPlane({ natsUrl: nats.url, trustDir: nats.trust.dir, databaseUrl: database.url, workDir: work, apiToken: token, logLevel: 'warn' });
const nc = await connect(nats.adminConnectOptions());
const js = nc.jetstream();
const db = new pg.Client({ connectionString: database.url });
await db.connect();
const api = new testing.ApiClient(cp.gatewayUrl, token);
const enc = new TextEncoder();

try {
  // ---- Placement ----
  const branches = 50;
  await api.ok('POST', '/v1/topology', {
    schemaVersion: 1,
    origin: { addresses: ['10.0.0.10'] },
    offices: [
      { id: 'hq', name: 'Headquarters', subnets: ['10.0.0.0/16'] },
      ...Array.from({ length: branches }, (_, k) => ({ id: `branch-${k + 1}`, name: `Branch ${k + 1}`, parent: 'hq', subnets: [`10.${k + 1}.0.0/16`], wan: { bandwidthKbps: 20_000 } })),
    ],
  });
  const addressOf = (i) => `10.${(i % branches) + 1}.${Math.floor(i / 250) % 250}.${(i % 250) + 1}`;
  const started = performance.now();
  const pending = [];
  for (let i = 0; i < DEVICES; i++) {
    const id = `bench-${i}`;
    const scan = {
      deviceId: id, scanSeq: 1, scannedAt: new Date().toISOString(), hostname: `host-${i}`, platform: 'windows', osVersion: '10.0.19045', agentVersion: '0.1.0',
      interfaces: [{ name: 'eth0', mac: null, gateway: null, addresses: [{ family: 'ipv4', address: addressOf(i), prefixLength: 24 }] }],
      cache: { contentIds: [], freeBytes: 10_000_000_000 },
    };
    pending.push(js.publish(InventoryScanSubmitted.subject(id), enc.encode(JSON.stringify(scan)), { msgID: `bench-scan-${i}` }));
    if (pending.length >= 2000) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending.splice(0));
  const published = performance.now();
  let inventoryMs = null;
  let topologyMs = null;
  await pollUntil(async () => {
    const now = performance.now() - started;
    if (inventoryMs === null && (await db.query('SELECT count(*)::int AS n FROM inventory.devices')).rows[0].n >= DEVICES) inventoryMs = now;
    if (topologyMs === null && (await db.query('SELECT count(*)::int AS n FROM topology.placements WHERE placed')).rows[0].n >= DEVICES) topologyMs = now;
    return inventoryMs !== null && topologyMs !== null;
  }, 600_000, 'every device stored and placed');
  const offices = (await db.query('SELECT count(DISTINCT office_id)::int AS n FROM topology.placements WHERE placed')).rows[0].n;
  say(`placement: ${DEVICES} scans published in ${((published - started) / 1000).toFixed(2)} s; inventory stored all in ${(inventoryMs / 1000).toFixed(2)} s (${Math.round(DEVICES / (inventoryMs / 1000))}/s), topology placed all in ${(topologyMs / 1000).toFixed(2)} s (${Math.round(DEVICES / (topologyMs / 1000))}/s) across ${offices} offices; topology / inventory time: ${(topologyMs / inventoryMs).toFixed(2)}x`);

  // ---- Webhooks ----
  let received = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${receiver.address().port}/hook`;
  const event = (i) => ({ deviceId: `bench-hook-${i}`, hostname: `h-${i}`, platform: 'linux', agentVersion: '0.1.0', group: null, tokenId: 'bench', occurredAt: new Date().toISOString() });
  const body = (i) => JSON.stringify({ id: randomUUID(), type: 'device.enrolled', eventId: `e-${i}`, createdAt: new Date().toISOString(), data: event(i) });

  // Baseline: the same receiver, plain POSTs at the same concurrency, no signing, no database.
  const post = (text) =>
    new Promise((resolve, reject) => {
      const r = request(hookUrl, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      r.on('error', reject);
      r.end(text);
    });
  const baselineStart = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < DELIVERIES) await post(body(next++));
  }));
  const baselineS = (performance.now() - baselineStart) / 1000;
  const baselineRate = DELIVERIES / baselineS;

  received = 0;
  await api.ok('POST', '/v1/webhooks', { url: hookUrl, events: ['device.enrolled'] });
  const hookStart = performance.now();
  for (let i = 0; i < DELIVERIES; i++) {
    pending.push(js.publish(DeviceEnrolled.subject(), enc.encode(JSON.stringify(event(i))), { msgID: `bench-enrolled-${i}` }));
    if (pending.length >= 1000) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending.splice(0));
  await pollUntil(() => received >= DELIVERIES, 600_000, 'every webhook delivered');
  const hookS = (performance.now() - hookStart) / 1000;
  const hookRate = DELIVERIES / hookS;
  receiver.close();
  const states = (await db.query(`SELECT state, count(*)::int AS n FROM webhooks.deliveries GROUP BY state ORDER BY state`)).rows.map((r) => `${r.state} ${r.n}`).join(', ');
  say(`webhooks: ${DELIVERIES} events delivered signed in ${hookS.toFixed(2)} s (${Math.round(hookRate)}/s; deliveries ${states}); plain POSTs to the same receiver: ${Math.round(baselineRate)}/s; webhooks / plain: ${(hookRate / baselineRate).toFixed(2)}x`);
} finally {
  await db.end();
  await nc.close();
  await cp.stop();
  await nats.stop();
  await database.drop();
  rmSync(work, { recursive: true, force: true });
}
