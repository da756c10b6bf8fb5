import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import {
  DeadLetteredV1,
  ErrorCode,
  FleetcastError,
  InventoryRpc,
  RESOLVE_PAGE_DEVICES,
  InventoryScanSubmitted,
  rpcReplySchema,
  SubjectBase,
  versioned,
} from '@fleetcast/contracts';
import { connectNats, decodeJson, encodeJson, NatsConnection, RpcClient } from '@fleetcast/nats';
import { createTestDatabase, makeTestCertificates, NodeProcess, spawnNodeProcess, startNatsServer, waitFor } from '@fleetcast/testing';
import { INVENTORY_MIGRATIONS } from '../src/migrations';
import { CleanupStack, metricSum, publishScan, publishScans, readDeadLetters, scanOf, startInProcess } from './inventory-fixtures';

/** Ample for a cold start of NATS, Postgres databases and Nest on a loaded 2-core machine. */
const SUITE_TIMEOUT_MS = 180_000;

interface Environment {
  natsUrl: string;
  /** The inventory service's own NATS credentials. */
  natsCreds: string;
  databaseUrl: string;
  nc: NatsConnection;
  rpc: RpcClient;
}

/** A private nats-server and database for one suite, torn down in reverse order by `cleanup`. */
async function startEnvironment(cleanup: CleanupStack, prefix: string): Promise<Environment> {
  const nats = await startNatsServer();
  cleanup.push(() => nats.stop());
  const db = await createTestDatabase(prefix);
  cleanup.push(() => db.drop());
  const nc = await connectNats({ ...nats.adminConnectOptions(), servers: nats.url, name: `${prefix}-test-client` });
  cleanup.push(() => nc.close());
  return { natsUrl: nats.url, natsCreds: nats.trust!.credsFile('inventory'), databaseUrl: db.url, nc, rpc: new RpcClient(nc) };
}

async function deviceOrUndefined(rpc: RpcClient, id: string) {
  try {
    return await rpc.call(InventoryRpc.getDevice, { id });
  } catch (error) {
    if (error instanceof FleetcastError && error.code === ErrorCode.DeviceNotFound) return undefined;
    throw error;
  }
}

describe('inventory: ingestion and queries', { timeout: SUITE_TIMEOUT_MS }, () => {
  const cleanup = new CleanupStack();
  let env: Environment;
  let httpUrl: string;

  before(async () => {
    env = await startEnvironment(cleanup, 'inventory_int');
    const service = await startInProcess({ NATS_URL: env.natsUrl, NATS_CREDS_FILE: env.natsCreds, DATABASE_URL: env.databaseUrl });
    cleanup.push(() => service.app.close());
    httpUrl = service.httpUrl;
  });
  after(() => cleanup.run());

  it('reports itself ready with its database and NATS checks', async () => {
    const response = await fetch(`${httpUrl}/readyz`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { checks: Record<string, string> };
    assert.deepEqual(body.checks, { nats: 'ok', database: 'ok' });
  });

  it('stores a published scan and answers getDevice and listDevices with it', async () => {
    const scan = scanOf('dev-a1', 1, { addresses: ['2001:db8:10:1::20/64', '10.10.1.20/24'], hostname: 'alpha-01', platform: 'windows' });
    await publishScan(env.nc, scan);
    const device = await waitFor(() => deviceOrUndefined(env.rpc, 'dev-a1'), { description: 'dev-a1 to be stored' });
    assert.equal(device.hostname, 'alpha-01');
    assert.equal(device.platform, 'windows');
    assert.equal(device.osVersion, scan.osVersion);
    assert.equal(device.agentVersion, scan.agentVersion);
    assert.deepEqual(device.interfaces, scan.interfaces);
    assert.deepEqual(device.subnets, ['10.10.1.0/24', '2001:db8:10:1::/64'], 'primary (IPv4) subnet first');
    assert.deepEqual(device.cachedContentIds, scan.cache.contentIds);
    assert.equal(device.cacheFreeBytes, 10_000_000_000);
    assert.equal(device.stale, false);
    assert.ok(Math.abs(Date.parse(device.lastSeenAt) - Date.now()) < 60_000, `lastSeenAt ${device.lastSeenAt} is the receipt time`);

    const bySubnet = await env.rpc.call(InventoryRpc.listDevices, { subnet: '10.10.1.99/24' });
    assert.deepEqual(
      bySubnet.items.map((d) => d.id),
      ['dev-a1'],
    );
    assert.equal(bySubnet.total, 1);
    const windows = await env.rpc.call(InventoryRpc.listDevices, { platform: 'windows', stale: false });
    assert.ok(windows.items.some((d) => d.id === 'dev-a1'));
    const none = await env.rpc.call(InventoryRpc.listDevices, { platform: 'windows', stale: true });
    assert.equal(none.total, 0);

    await assert.rejects(env.rpc.call(InventoryRpc.getDevice, { id: 'dev-never-seen' }), (error: FleetcastError) => {
      assert.equal(error.code, ErrorCode.DeviceNotFound);
      return true;
    });
  });

  it('ignores an older or repeated scanSeq, and keeps the newest of several scans', async () => {
    const ingested = () => metricSum(httpUrl, 'fleetcast_inventory_scans_ingested_total');
    await publishScan(env.nc, scanOf('dev-seq', 5, { hostname: 'v5' }));
    const stored = await waitFor(
      async () => {
        const device = await deviceOrUndefined(env.rpc, 'dev-seq');
        return device?.hostname === 'v5' ? device : undefined;
      },
      { description: 'scan 5 of dev-seq to be stored' },
    );
    const before = await ingested();

    // A late scan and a redelivered copy (same scanSeq, as after a crash between commit and ack).
    await publishScan(env.nc, scanOf('dev-seq', 3, { hostname: 'v3' }));
    await publishScan(env.nc, scanOf('dev-seq', 5, { hostname: 'v5-again' }));
    await waitFor(async () => (await ingested()) >= before + 2, { description: 'both stale scans to be handled' });
    const after = await env.rpc.call(InventoryRpc.getDevice, { id: 'dev-seq' });
    assert.equal(after.hostname, 'v5');
    assert.equal(after.lastSeenAt, stored.lastSeenAt, 'a scan that is not newer does not even refresh last_seen_at');
    assert.equal(await metricSum(httpUrl, 'fleetcast_inventory_scans_ingested_total', { result: 'superseded' }) >= 2, true);

    // Out of order, probably in one batch: the highest scanSeq wins whatever the batching.
    const mid = await ingested();
    await publishScans(env.nc, [scanOf('dev-seq', 10, { hostname: 'v10' }), scanOf('dev-seq', 12, { hostname: 'v12' }), scanOf('dev-seq', 11, { hostname: 'v11' })]);
    await waitFor(async () => (await ingested()) >= mid + 3, { description: 'scans 10-12 to be handled' });
    assert.equal((await env.rpc.call(InventoryRpc.getDevice, { id: 'dev-seq' })).hostname, 'v12');
  });

  it('groups devices by primary subnet and resolves targets, unknown IDs included', async () => {
    await publishScans(env.nc, [
      scanOf('sn-1', 1, { hostname: 'subnet-host-1', addresses: ['10.20.1.11/24'] }),
      scanOf('sn-2', 1, { hostname: 'Subnet-Host-2', addresses: ['2001:db8:20:1::2/64', '10.20.1.12/24'] }),
      scanOf('sn-3', 1, { hostname: 'subnet-host-3', addresses: ['10.20.2.13/24'], platform: 'macos' }),
      scanOf('sn-4', 1, { hostname: 'subnet-host-4', addresses: ['2001:db8:20:9::4/64'] }),
      scanOf('sn-5', 1, { hostname: 'subnet-host-5', addresses: ['fe80::5/64', '169.254.0.5/16', '127.0.0.1/8'] }),
    ]);
    await waitFor(
      async () => {
        const resolved = await env.rpc.call(InventoryRpc.resolveTargets, { deviceIds: ['sn-1', 'sn-2', 'sn-3', 'sn-4', 'sn-5'] });
        return resolved.devices.every((d) => d.known);
      },
      { description: 'sn-1..sn-5 to be stored' },
    );

    const { items } = await env.rpc.call(InventoryRpc.listSubnets, {});
    const ours = items.filter((s) => s.cidr.startsWith('10.20.') || s.cidr.startsWith('2001:db8:20:'));
    assert.deepEqual(ours, [
      { cidr: '10.20.1.0/24', family: 'ipv4', deviceCount: 2, staleCount: 0 },
      { cidr: '10.20.2.0/24', family: 'ipv4', deviceCount: 1, staleCount: 0 },
      { cidr: '2001:db8:20:9::/64', family: 'ipv6', deviceCount: 1, staleCount: 0 },
    ]);
    assert.ok(!items.some((s) => s.cidr.startsWith('fe80') || s.cidr.startsWith('169.254') || s.cidr.startsWith('127.')));
    const inSubnet = await env.rpc.call(InventoryRpc.listDevices, { subnet: '10.20.1.0/24' });
    assert.deepEqual(
      inSubnet.items.map((d) => d.id),
      ['sn-1', 'sn-2'],
    );

    const resolved = await env.rpc.call(InventoryRpc.resolveTargets, {
      deviceIds: ['sn-3', 'ghost-1', 'sn-1', 'sn-5'],
      query: { hostnamePrefix: 'SUBNET-HOST-', platform: 'linux' },
    });
    assert.deepEqual(resolved.devices, [
      { deviceId: 'sn-3', subnet: '10.20.2.0/24', known: true },
      { deviceId: 'ghost-1', subnet: null, known: false },
      { deviceId: 'sn-1', subnet: '10.20.1.0/24', known: true },
      { deviceId: 'sn-5', subnet: null, known: true },
      { deviceId: 'sn-2', subnet: '10.20.1.0/24', known: true },
      { deviceId: 'sn-4', subnet: '2001:db8:20:9::/64', known: true },
    ]);
    assert.deepEqual(resolved.bySubnet, [
      { subnet: '10.20.1.0/24', deviceIds: ['sn-1', 'sn-2'] },
      { subnet: '10.20.2.0/24', deviceIds: ['sn-3'] },
      { subnet: '2001:db8:20:9::/64', deviceIds: ['sn-4'] },
    ]);

    const bySubnetQuery = await env.rpc.call(InventoryRpc.resolveTargets, { query: { subnet: '10.20.1.200/24' } });
    assert.deepEqual(
      bySubnetQuery.devices.map((d) => d.deviceId),
      ['sn-1', 'sn-2'],
    );
    // "_" in a prefix is a literal character, not LIKE's any-character wildcard.
    const literal = await env.rpc.call(InventoryRpc.resolveTargets, { query: { hostnamePrefix: 'subnet_host' } });
    assert.deepEqual(literal.devices, []);

    // Addresses on a subnet, for the LAN session's peers: a device with none there, and an unknown one, are left out.
    const addresses = await env.rpc.call(InventoryRpc.deviceAddresses, { deviceIds: ['sn-2', 'sn-3', 'ghost-1', 'sn-1'], subnet: '10.20.1.0/24' });
    assert.deepEqual(addresses.items, [
      { deviceId: 'sn-1', address: '10.20.1.11' },
      { deviceId: 'sn-2', address: '10.20.1.12' },
    ]);
    const v6 = await env.rpc.call(InventoryRpc.deviceAddresses, { deviceIds: ['sn-2'], subnet: '2001:db8:20:1::/64' });
    assert.deepEqual(v6.items, [{ deviceId: 'sn-2', address: '2001:db8:20:1::2' }]);
    await assert.rejects(env.rpc.call(InventoryRpc.deviceAddresses, { deviceIds: ['sn-1'], subnet: 'not-a-subnet' }), (e: FleetcastError) => e.code === ErrorCode.ContractInvalid && /subnet/.test(e.message));
  });

  it('ingests a burst of 3,000 scans and resolves 10,000 explicit IDs in one call', async (t) => {
    const devices = Array.from({ length: 3_000 }, (_, i) => `bulk-${String(i).padStart(5, '0')}`);
    const startedAt = Date.now();
    await publishScans(
      env.nc,
      devices.map((id, i) => scanOf(id, 1, { addresses: [`10.30.${i % 30}.${(i % 200) + 10}/24`] })),
    );
    await waitFor(
      async () => {
        const { items } = await env.rpc.call(InventoryRpc.listSubnets, {});
        return items.filter((s) => s.cidr.startsWith('10.30.')).reduce((sum, s) => sum + s.deviceCount, 0) === devices.length;
      },
      { timeoutMs: 60_000, description: '3,000 bulk devices to be stored' },
    );
    t.diagnostic(`3,000 scans published and stored in ${Date.now() - startedAt} ms`);

    const unknown = Array.from({ length: 7_000 }, (_, i) => `nobody-${i}`);
    const ids = [...devices.slice(0, 1_500), ...unknown, ...devices.slice(1_500)];
    const resolved = await env.rpc.call(InventoryRpc.resolveTargets, { deviceIds: ids }, { timeoutMs: 30_000 });
    assert.equal(resolved.devices.length, 10_000);
    assert.deepEqual(
      resolved.devices.map((d) => d.deviceId),
      ids,
      'in the order given',
    );
    assert.equal(resolved.devices.filter((d) => d.known).length, 3_000);
    assert.ok(resolved.devices.filter((d) => !d.known).every((d) => d.subnet === null && d.deviceId.startsWith('nobody-')));
    assert.equal(resolved.bySubnet.length, 30);
    assert.deepEqual(resolved.bySubnet[0], { subnet: '10.30.0.0/24', deviceIds: devices.filter((_, i) => i % 30 === 0) });
    assert.equal(resolved.bySubnet[29]!.subnet, '10.30.29.0/24');

    // The same fleet a page at a time: a query read in ID order, each page within its limit.
    const subnetDevices = devices.filter((_, i) => i % 30 === 7).sort();
    const paged: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await env.rpc.call(InventoryRpc.resolveTargetsPage, { query: { subnet: '10.30.7.0/24' }, limit: 30, ...(after ? { after } : {}) });
      assert.ok(page.devices.length <= 30);
      paged.push(...page.devices.map((d) => d.deviceId));
      after = page.next ?? undefined;
      pages++;
    } while (after !== undefined);
    assert.deepEqual(paged, subnetDevices, 'every matching device once, in ID order');
    assert.equal(pages, Math.ceil(subnetDevices.length / 30));
    const explicitPage = await env.rpc.call(InventoryRpc.resolveTargetsPage, { deviceIds: ['nobody-1', devices[0]!] });
    assert.deepEqual(explicitPage.devices.map((d) => [d.deviceId, d.known]), [['nobody-1', false], [devices[0], true]]);
    assert.equal(explicitPage.next, null);
    await assert.rejects(env.rpc.call(InventoryRpc.resolveTargetsPage, { deviceIds: ids.slice(0, RESOLVE_PAGE_DEVICES + 1) }), (e: FleetcastError) => e.code === ErrorCode.ContractInvalid && /deviceIds/.test(e.message));
    await assert.rejects(env.rpc.call(InventoryRpc.resolveTargetsPage, { deviceIds: ['a'], query: {} }), (e: FleetcastError) => e.code === ErrorCode.ContractInvalid && /either deviceIds or query/.test(e.message));
  });

  it('dead-letters malformed, invalid, unstorable and wrong-version scans and goes on ingesting', async () => {
    const js = env.nc.jetstream();
    const v1 = (id: string) => InventoryScanSubmitted.subject(id);
    const malformed = Buffer.from('{"deviceId": "dl-json", "scanSeq": ');
    await js.publish(v1('dl-json'), malformed);
    await js.publish(v1('dl-schema'), encodeJson({ ...scanOf('dl-schema', 1), platform: 'beos' }));
    await js.publish(versioned(SubjectBase.inventoryScanSubmitted, 2, 'dl-v2'), encodeJson(scanOf('dl-v2', 1)));
    // Published as one device, speaking for another: what a device's stolen credentials would try.
    await js.publish(v1('dl-spoofer'), encodeJson(scanOf('dl-victim', 1)));
    // Valid for the schema, refused by Postgres: must not hold back the valid scan beside it.
    await publishScans(env.nc, [scanOf('dl-nul', 1, { hostname: 'nul\u0000host' }), scanOf('dl-after', 1)]);

    await waitFor(() => deviceOrUndefined(env.rpc, 'dl-after'), { description: 'the valid scan sent after the bad ones to be stored' });
    const records = await waitFor(
      async () => {
        const all = await readDeadLetters(env.nc);
        const bySubject = new Map<string, DeadLetteredV1>(all.map((r) => [r.subject, r]));
        const wanted = [v1('dl-json'), v1('dl-schema'), versioned(SubjectBase.inventoryScanSubmitted, 2, 'dl-v2'), v1('dl-nul'), v1('dl-spoofer')];
        return wanted.every((s) => bySubject.has(s)) && wanted.map((s) => bySubject.get(s)!);
      },
      { description: 'five dead letters' },
    );
    const [json, schema, v2, nul, spoofed] = records;
    assert.equal(spoofed.reason.code, ErrorCode.DeviceMismatch);
    assert.match(spoofed.reason.message, /dl-victim.*dl-spoofer/);
    assert.equal(json.reason.code, ErrorCode.ContractInvalid);
    assert.match(json.reason.message, /JSON/);
    assert.deepEqual(Buffer.from(json.data, 'base64'), malformed, 'the original bytes are kept');
    assert.equal(schema.reason.code, ErrorCode.ContractInvalid);
    assert.deepEqual(
      schema.reason.details?.map((d) => d.path),
      ['platform'],
    );
    assert.equal(v2.reason.code, ErrorCode.ContractUnsupportedVersion);
    assert.equal(nul.reason.code, ErrorCode.ContractInvalid);
    assert.match(nul.reason.message, /cannot be stored/);
    for (const record of records) assert.equal(record.consumer, 'inventory-scan-ingest');

    for (const id of ['dl-json', 'dl-schema', 'dl-v2', 'dl-nul', 'dl-victim', 'dl-spoofer']) assert.equal(await deviceOrUndefined(env.rpc, id), undefined, `${id} is not stored`);
    assert.ok((await metricSum(httpUrl, 'fleetcast_dead_letters_total', { code: ErrorCode.ContractInvalid })) >= 3);
    assert.ok((await metricSum(httpUrl, 'fleetcast_dead_letters_total', { code: ErrorCode.ContractUnsupportedVersion })) >= 1);
  });

  it('answers an RPC with a bad body with CONTRACT.INVALID naming the field', async () => {
    const rawCall = async (subject: string, body: Uint8Array) => {
      const reply = await env.nc.request(subject, body, { timeout: 10_000 });
      const decoded = decodeJson(reply.data);
      assert.ok(decoded.ok, 'the reply is JSON');
      return rpcReplySchema.parse(decoded.value);
    };
    const expectInvalid = async (subject: string, body: Uint8Array, paths: string[]) => {
      const reply = await rawCall(subject, body);
      assert.equal(reply.ok, false);
      if (reply.ok) return;
      assert.equal(reply.error.code, ErrorCode.ContractInvalid);
      assert.deepEqual(
        (reply.error.details ?? []).map((d) => d.path).sort(),
        paths,
        reply.error.message,
      );
    };
    await expectInvalid(InventoryRpc.listDevices.subject, encodeJson({ limit: 5_000, platform: 'beos' }), ['limit', 'platform']);
    await expectInvalid(InventoryRpc.getDevice.subject, encodeJson({ id: 'has.a.dot' }), ['id']);
    await expectInvalid(InventoryRpc.getDevice.subject, encodeJson({}), ['id']);
    await expectInvalid(InventoryRpc.resolveTargets.subject, encodeJson({ query: { subnet: 'the-office' } }), ['query.subnet']);
    await expectInvalid(InventoryRpc.listDevices.subject, encodeJson({ subnet: '10.0.0.0/99' }), ['subnet']);
    const malformed = await rawCall(InventoryRpc.listSubnets.subject, Buffer.from('{nope'));
    assert.ok(!malformed.ok && malformed.error.code === ErrorCode.ContractInvalid);
    const good = await rawCall(InventoryRpc.listSubnets.subject, encodeJson({}));
    assert.equal(good.ok, true);
  });
});

describe('inventory: staleness', { timeout: SUITE_TIMEOUT_MS }, () => {
  const cleanup = new CleanupStack();
  let env: Environment;

  before(async () => {
    env = await startEnvironment(cleanup, 'inventory_stale');
    const service = await startInProcess({ NATS_URL: env.natsUrl, NATS_CREDS_FILE: env.natsCreds, DATABASE_URL: env.databaseUrl, STALE_AFTER_SECONDS: '1' });
    cleanup.push(() => service.app.close());
  });
  after(() => cleanup.run());

  it('marks a device stale once it has not been seen for STALE_AFTER_SECONDS, and fresh again on its next scan', async () => {
    await publishScan(env.nc, scanOf('st-1', 1, { addresses: ['10.40.1.5/24'] }));
    // Fresh first (the poll sees it well within the 1 s), then stale with no further scan.
    await waitFor(async () => (await deviceOrUndefined(env.rpc, 'st-1'))?.stale === false, { description: 'st-1 stored and fresh' });
    await waitFor(async () => (await deviceOrUndefined(env.rpc, 'st-1'))?.stale === true, { description: 'st-1 to turn stale' });

    assert.deepEqual(
      (await env.rpc.call(InventoryRpc.listDevices, { stale: true })).items.map((d) => d.id),
      ['st-1'],
    );
    assert.equal((await env.rpc.call(InventoryRpc.listDevices, { stale: false })).total, 0);
    assert.deepEqual((await env.rpc.call(InventoryRpc.listSubnets, {})).items, [{ cidr: '10.40.1.0/24', family: 'ipv4', deviceCount: 1, staleCount: 1 }]);
    assert.deepEqual((await env.rpc.call(InventoryRpc.resolveTargets, { query: {} })).devices, [], 'a query leaves stale devices out');
    assert.deepEqual(
      (await env.rpc.call(InventoryRpc.resolveTargets, { query: { includeStale: true } })).devices,
      [{ deviceId: 'st-1', subnet: '10.40.1.0/24', known: true }],
    );
    assert.deepEqual(
      (await env.rpc.call(InventoryRpc.resolveTargets, { deviceIds: ['st-1'] })).devices,
      [{ deviceId: 'st-1', subnet: '10.40.1.0/24', known: true }],
      'a device named explicitly is a target even when stale',
    );

    await publishScan(env.nc, scanOf('st-1', 2, { addresses: ['10.40.1.5/24'] }));
    await waitFor(async () => (await deviceOrUndefined(env.rpc, 'st-1'))?.stale === false, { description: 'st-1 fresh again after a new scan' });
  });
});

describe('inventory: supported agent versions', { timeout: SUITE_TIMEOUT_MS }, () => {
  const cleanup = new CleanupStack();
  let env: Environment;
  let service: Awaited<ReturnType<typeof startInProcess>> | undefined;
  const start = async (range: string) => {
    service = await startInProcess({ NATS_URL: env.natsUrl, NATS_CREDS_FILE: env.natsCreds, DATABASE_URL: env.databaseUrl, SUPPORTED_AGENT_VERSIONS: range });
  };

  before(async () => {
    env = await startEnvironment(cleanup, 'inventory_versions');
    cleanup.push(async () => service?.app.close());
    await start('>=0.1.0 <1.0.0');
  });
  after(() => cleanup.run());

  it('marks an agent outside the range unsupported-version with the reason, lists and excludes it, and judges again after the range changes', async () => {
    await publishScans(env.nc, [
      scanOf('av-old', 1, { agentVersion: '0.0.9', addresses: ['10.60.1.9/24'] }),
      scanOf('av-new', 1, { agentVersion: '0.1.0', addresses: ['10.60.1.10/24'] }),
      scanOf('av-junk', 1, { agentVersion: 'nightly', addresses: ['10.60.1.11/24'] }),
    ]);
    await waitFor(async () => (await env.rpc.call(InventoryRpc.listDevices, {})).total === 3, { timeoutMs: 30_000, description: 'three scans stored' });

    const old = await env.rpc.call(InventoryRpc.getDevice, { id: 'av-old' });
    assert.deepEqual(old.versionStatus, {
      state: 'unsupported-version',
      reason: 'agent 0.0.9 is outside the supported range >=0.1.0 <1.0.0; upgrade the agent',
    });
    assert.deepEqual((await env.rpc.call(InventoryRpc.getDevice, { id: 'av-new' })).versionStatus, { state: 'supported', reason: null });
    const junk = await env.rpc.call(InventoryRpc.getDevice, { id: 'av-junk' });
    assert.equal(junk.versionStatus?.state, 'unsupported-version');
    assert.match(junk.versionStatus?.reason ?? '', /"nightly" is not a semantic version/);

    const unsupported = await env.rpc.call(InventoryRpc.listDevices, { versionState: 'unsupported-version' });
    assert.deepEqual(
      unsupported.items.map((d) => d.id),
      ['av-junk', 'av-old'],
    );
    assert.equal(unsupported.total, 2);
    assert.deepEqual(
      (await env.rpc.call(InventoryRpc.listDevices, { versionState: 'supported', subnet: '10.60.1.0/24' })).items.map((d) => d.id),
      ['av-new'],
    );

    // Named or matched by a query, the old agent stays a target, marked: the task will say why it gets nothing.
    const resolved = await env.rpc.call(InventoryRpc.resolveTargets, { deviceIds: ['av-old'], query: { subnet: '10.60.1.0/24' } });
    assert.deepEqual(resolved.devices, [
      { deviceId: 'av-old', subnet: '10.60.1.0/24', known: true, excluded: { code: ErrorCode.AgentUnsupportedVersion, message: old.versionStatus!.reason! } },
      { deviceId: 'av-junk', subnet: '10.60.1.0/24', known: true, excluded: { code: ErrorCode.AgentUnsupportedVersion, message: junk.versionStatus!.reason! } },
      { deviceId: 'av-new', subnet: '10.60.1.0/24', known: true },
    ]);
    assert.deepEqual(resolved.bySubnet, [{ subnet: '10.60.1.0/24', deviceIds: ['av-new'] }], 'excluded devices take no part in the LAN session');

    // A wider range, and no new scan: the stored statuses are judged again at start.
    await service!.app.close();
    service = undefined;
    await start('>=0.0.1 <1.0.0');
    assert.deepEqual((await env.rpc.call(InventoryRpc.getDevice, { id: 'av-old' })).versionStatus, { state: 'supported', reason: null });
    assert.deepEqual(
      (await env.rpc.call(InventoryRpc.listDevices, { versionState: 'unsupported-version' })).items.map((d) => d.id),
      ['av-junk'],
      'a version that is not semantic stays unsupported under any range',
    );
    assert.deepEqual(
      (await env.rpc.call(InventoryRpc.resolveTargets, { deviceIds: ['av-old'] })).devices,
      [{ deviceId: 'av-old', subnet: '10.60.1.0/24', known: true }],
    );

    // A scan ingested under the new range is judged against it, and a newer agent above it says so.
    await publishScan(env.nc, scanOf('av-old', 2, { agentVersion: '1.2.0', addresses: ['10.60.1.9/24'] }));
    const upgraded = await waitFor(
      async () => {
        const device = await env.rpc.call(InventoryRpc.getDevice, { id: 'av-old' });
        return device.agentVersion === '1.2.0' && device;
      },
      { timeoutMs: 30_000, description: 'the scan of the newer agent stored' },
    );
    assert.equal(upgraded.versionStatus?.state, 'unsupported-version');
    assert.match(upgraded.versionStatus?.reason ?? '', /^agent 1\.2\.0 is outside the supported range >=0\.0\.1 <1\.0\.0; it is newer than this control plane supports/);
  });
});

describe('inventory: scans trickling in one at a time', { timeout: SUITE_TIMEOUT_MS }, () => {
  const cleanup = new CleanupStack();
  let env: Environment;

  before(async () => {
    env = await startEnvironment(cleanup, 'inventory_trickle');
    // A small batch makes the consumer's client refill its pull request every few messages, the
    // moment at which a lone message was once left waiting for the next one (up to the ack wait).
    const service = await startInProcess({ NATS_URL: env.natsUrl, NATS_CREDS_FILE: env.natsCreds, DATABASE_URL: env.databaseUrl, SCAN_BATCH_SIZE: '10' });
    cleanup.push(() => service.app.close());
  });
  after(() => cleanup.run());

  it('stores each lone scan promptly, without waiting for a next one', async () => {
    for (let i = 0; i < 40; i++) {
      await publishScan(env.nc, scanOf(`lone-${i}`, 1));
      // Far below the 30 s ack wait: a scan held back until redelivery fails here.
      await waitFor(() => deviceOrUndefined(env.rpc, `lone-${i}`), { timeoutMs: 5_000, intervalMs: 5, description: `lone scan ${i} to be stored` });
    }
  });
});

describe('inventory: two instances as separate processes', { timeout: SUITE_TIMEOUT_MS }, () => {
  const cleanup = new CleanupStack();
  let env: Environment;
  const instances: Array<{ process: NodeProcess; httpUrl: string }> = [];
  const mainScript = join(__dirname, '..', 'src', 'main.js');

  before(async () => {
    env = await startEnvironment(cleanup, 'inventory_pair');
    // Started together on an empty database: the migration lock makes them take turns.
    const started = await Promise.all(
      ['a', 'b'].map(async (name) => {
        const child = await spawnNodeProcess(mainScript, {
          name: `inventory-${name}`,
          env: { NATS_URL: env.natsUrl, NATS_CREDS_FILE: env.natsCreds, DATABASE_URL: env.databaseUrl, HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', LOG_LEVEL: 'info', SCAN_BATCH_SIZE: '200' },
        });
        cleanup.push(() => child.stop());
        const [, port] = await child.waitForOutput(/"port":(\d+).*"msg":"inventory listening"/, { timeoutMs: 60_000 });
        return { process: child, httpUrl: `http://127.0.0.1:${port}` };
      }),
    );
    instances.push(...started);
  });
  after(() => cleanup.run());

  it('shares the scans between both instances and processes each exactly once', async () => {
    const count = 4_000;
    await publishScans(
      env.nc,
      Array.from({ length: count }, (_, i) => scanOf(`pair-${i}`, 1, { addresses: [`10.50.${i % 100}.7/24`] })),
    );
    const sums = async (labels: Record<string, string>) => Promise.all(instances.map((i) => metricSum(i.httpUrl, 'fleetcast_inventory_scans_ingested_total', labels)));
    const handled = await waitFor(
      async () => {
        const perInstance = await sums({});
        return perInstance.reduce((a, b) => a + b, 0) >= count && perInstance;
      },
      { timeoutMs: 60_000, description: `${count} scans handled by the two instances` },
    );
    const applied = await sums({ result: 'applied' });
    const describeInstances = () => instances.map((i) => i.process.describe()).join('\n');
    assert.equal(handled[0]! + handled[1]!, count, `no scan was handled twice (per instance: ${handled.join(', ')})`);
    assert.equal(applied[0]! + applied[1]!, count);
    assert.ok(handled[0]! > 0 && handled[1]! > 0, `both instances took a share (per instance: ${handled.join(', ')})\n${describeInstances()}`);

    const db = new Client({ connectionString: env.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM inventory.devices WHERE id LIKE 'pair-%'`);
      assert.equal(rows[0]!.n, count);
      const { rows: migrations } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM inventory.migrations`);
      assert.equal(migrations[0]!.n, INVENTORY_MIGRATIONS.length, 'each migration ran once although both instances started together');
    } finally {
      await db.end();
    }

    // Queries are shared too: both instances answer in the `inventory` queue group.
    const total = await env.rpc.call(InventoryRpc.listDevices, { limit: 1 });
    assert.equal(total.total, count);
  });
});

describe('inventory: HTTPS', { timeout: SUITE_TIMEOUT_MS }, () => {
  const cleanup = new CleanupStack();

  after(() => cleanup.run());

  it('serves /healthz over HTTPS with HTTP_TLS_CERT_FILE and HTTP_TLS_KEY_FILE, and refuses to start with only one of them', async () => {
    const env = await startEnvironment(cleanup, 'inventory_https');
    const dir = mkdtempSync(join(tmpdir(), 'fleetcast-https-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const certs = makeTestCertificates(dir);
    const base = { NATS_URL: env.natsUrl, NATS_CREDS_FILE: env.natsCreds, DATABASE_URL: env.databaseUrl };
    const service = await startInProcess({ ...base, HTTP_TLS_CERT_FILE: certs.certFile, HTTP_TLS_KEY_FILE: certs.keyFile });
    cleanup.push(() => service.app.close());
    const port = new URL(service.httpUrl).port;
    const body = await new Promise<string>((resolve, reject) => {
      httpsGet({ host: '127.0.0.1', port, path: '/healthz', ca: readFileSync(certs.caFile) }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    assert.match(body, /"status":"ok"/);
    // A plain HTTP request to the HTTPS port gets no answer it could read.
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.text()));
    await assert.rejects(startInProcess({ ...base, HTTP_TLS_CERT_FILE: certs.certFile }), /HTTP_TLS_CERT_FILE and HTTP_TLS_KEY_FILE go together/);
  });
});
