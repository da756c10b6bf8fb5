import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StringCodec } from 'nats';
import { Client } from 'pg';
import {
  deviceInboxPrefix,
  DevicePlacedV1,
  ErrorCode,
  FleetcastError,
  InventoryRpc,
  InventoryScanSubmitted,
  RpcReply,
  Streams,
  TopologyChangedV1,
  TopologyDeviceRpc,
  TopologyDocumentInput,
  TopologyRpc,
} from '@fleetcast/contracts';
import { connectNats, natsAuthenticator, NatsConnection, RpcClient } from '@fleetcast/nats';
import { createTestDatabase, provisionDeviceCreds, startNatsServer, waitFor } from '@fleetcast/testing';
import { CleanupStack, outboxBacklog, publishScan, readEvents, RunningTopology, scan, startInProcess, TOPOLOGY_EVENTS } from './topology-fixtures';

/** Ample for a cold start of NATS, a Postgres database and Nest on a loaded 2-core machine. */
const SUITE_TIMEOUT_MS = 180_000;

/** The central office with the origin, a wifi branch, a vpn office below it, a default branch. */
function document(): TopologyDocumentInput {
  return {
    schemaVersion: 1,
    origin: { addresses: ['10.0.0.10'] },
    offices: [
      { id: 'hq', name: 'Headquarters', subnets: ['10.0.0.0/16', '2001:db8::/48'] },
      { id: 'paris', name: 'Paris', type: 'wifi', parent: 'hq', subnets: ['10.1.0.0/24'], wan: { bandwidthKbps: 20000 } },
      { id: 'lyon', name: 'Lyon', type: 'vpn', parent: 'paris', subnets: ['10.2.0.0/24'], wan: { bandwidthKbps: 5000, rateCapKbps: 4000 } },
      { id: 'nice', name: 'Nice', parent: 'hq', subnets: ['10.3.0.0/24'], wan: { bandwidthKbps: 100000 } },
    ],
  };
}

/** The error a promise rejects with. */
async function refusal(promise: Promise<unknown>): Promise<FleetcastError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof FleetcastError) return error;
    throw error;
  }
  assert.fail('expected a refusal');
}

describe('topology service against real NATS and Postgres', { timeout: SUITE_TIMEOUT_MS }, () => {
  const cleanup = new CleanupStack();
  let nc: NatsConnection;
  let rpc: RpcClient;
  let db: Client;
  let service: RunningTopology;
  let trustDir: string;
  let natsUrl: string;

  before(async () => {
    const nats = await startNatsServer();
    cleanup.push(() => nats.stop());
    trustDir = nats.trust!.dir;
    natsUrl = nats.url;
    const database = await createTestDatabase('topology_int');
    cleanup.push(() => database.drop());
    nc = await connectNats({ ...nats.adminConnectOptions(), servers: nats.url, name: 'topology-test-client' });
    cleanup.push(() => nc.close());
    rpc = new RpcClient(nc);
    db = new Client({ connectionString: database.url });
    await db.connect();
    cleanup.push(() => db.end());
    // The service connects as its own NATS user: what it may do is what production allows it.
    service = await startInProcess({ NATS_URL: nats.url, NATS_CREDS_FILE: nats.trust!.credsFile('topology'), DATABASE_URL: database.url });
    cleanup.push(() => service.app.close());
  });
  after(() => cleanup.run());

  it('is ready, and says there is no topology yet', async () => {
    const ready = await fetch(`${service.httpUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal((await refusal(rpc.call(TopologyRpc.get, {}))).code, ErrorCode.NoTopology);
    assert.equal((await refusal(rpc.call(TopologyRpc.listUnplaced, {}))).code, ErrorCode.NoTopology);
    assert.equal((await refusal(rpc.call(TopologyRpc.listOffices, {}))).code, ErrorCode.NoTopology);
  });

  it('refuses a document with problems, naming every one with its location, and stores nothing', async () => {
    const bad = document();
    bad.offices[1]!.subnets = ['10.0.9.0/24'];
    bad.offices[2]!.parent = 'marseille';
    bad.offices[3]!.wan = undefined;
    const error = await refusal(rpc.call(TopologyRpc.upload, { document: bad, author: 'alice' }));
    assert.equal(error.code, ErrorCode.TopologyInvalid);
    assert.deepEqual(error.details, [
      { path: '/offices/1/subnets/0', code: 'overlapping-subnets', message: '10.0.9.0/24 overlaps 10.0.0.0/16 (of office "hq", /offices/0/subnets/0)' },
      { path: '/offices/2/parent', code: 'unknown-parent', message: 'parent "marseille" of office "lyon" is not an office of this document' },
      { path: '/offices/3/wan', code: 'missing-wan-link', message: 'office "nice" needs the WAN link to its parent "hq": wan: { bandwidthKbps: <kbit/s> }' },
    ]);
    assert.match(error.message, /topology refused, 3 problems/);
    const shape = await refusal(rpc.call(TopologyRpc.upload, { document: { schemaVersion: 1, offices: 'none' }, author: 'alice' }));
    assert.deepEqual(shape.details?.map((d) => d.path), ['/origin', '/offices']);
    const { rows } = await db.query<{ n: number }>('SELECT (SELECT count(*) FROM topology.versions)::int + (SELECT count(*) FROM topology.outbox)::int AS n');
    assert.equal(rows[0]!.n, 0, 'no version and no event');
    const validation = await rpc.call(TopologyRpc.validate, { document: bad });
    assert.equal(validation.valid, false);
    assert.equal(validation.problems.length, 3);
    assert.deepEqual(await rpc.call(TopologyRpc.validate, { document: document() }), { valid: true, problems: [] });
  });

  it('keeps scans that arrive before any topology and places them with the first version', async () => {
    await publishScan(nc, scan('dev-p1', 1, ['10.1.0.11', 'fe80::1']));
    await waitFor(async () => (await db.query(`SELECT 1 FROM topology.placements WHERE device_id = 'dev-p1'`)).rowCount === 1, { description: 'the first scan stored' });
    assert.equal((await refusal(rpc.call(TopologyRpc.deviceOffice, { deviceId: 'dev-p1' }))).code, ErrorCode.NoTopology);

    const version = await rpc.call(TopologyRpc.upload, { document: document(), author: 'alice', comment: 'first offices', baseVersion: 0 });
    assert.equal(version.version, 1);
    assert.equal(version.author, 'alice');
    assert.equal(version.summary.text, '4 offices added (hq, paris, lyon, nice); 5 subnets added');

    const office = await rpc.call(TopologyRpc.deviceOffice, { deviceId: 'dev-p1' });
    assert.deepEqual([office.office, office.placed, office.address, office.addresses, office.topologyVersion], [
      { id: 'paris', name: 'Paris', type: 'wifi' },
      true,
      '10.1.0.11',
      ['10.1.0.11'],
      1,
    ]);
    assert.deepEqual(office.parents, [{ id: 'hq', name: 'Headquarters', type: 'default' }]);

    await waitFor(async () => (await outboxBacklog(db)) === 0, { description: 'the outbox to drain' });
    const changed = await readEvents<TopologyChangedV1>(nc, TOPOLOGY_EVENTS, 'topology.evt.topology.changed.>');
    assert.deepEqual(changed.map((e) => [e.data.version, e.data.previousVersion, e.data.author, e.data.devicesMoved]), [[1, null, 'alice', 1]]);
    const placed = await readEvents<DevicePlacedV1>(nc, TOPOLOGY_EVENTS, 'topology.evt.device.placed.>');
    assert.deepEqual(placed.map((e) => [e.subject, e.data.officeId, e.data.previousOfficeId, e.data.placed]), [['topology.evt.device.placed.v1.dev-p1', 'paris', null, true]]);
  });

  it('places devices as their scans arrive; one in no office goes to the default office, unplaced', async () => {
    await publishScan(nc, scan('dev-hq', 1, ['10.0.0.20']));
    await publishScan(nc, scan('dev-p2', 1, ['10.1.0.12']));
    await publishScan(nc, scan('dev-l1', 1, ['10.2.0.11']));
    await publishScan(nc, scan('dev-l2', 1, ['10.2.0.12']));
    await publishScan(nc, scan('dev-away', 1, ['192.0.2.5']));
    await waitFor(async () => (await db.query(`SELECT 1 FROM topology.placements`)).rowCount === 6, { description: 'six devices placed' });

    const unplaced = await rpc.call(TopologyRpc.listUnplaced, {});
    assert.deepEqual(unplaced.items.map((p) => [p.deviceId, p.office.id, p.placed, p.addresses]), [['dev-away', 'hq', false, ['192.0.2.5']]]);
    assert.equal(unplaced.total, 1);

    // The offices in document order, a page at a time, with their devices (the unplaced one in the default office).
    const offices = await rpc.call(TopologyRpc.listOffices, {});
    assert.deepEqual(offices.items.map((o) => [o.id, o.type, o.parent, o.deviceCount]), [['hq', 'default', null, 2], ['paris', 'wifi', 'hq', 2], ['lyon', 'vpn', 'paris', 2], ['nice', 'default', 'hq', 0]]);
    assert.equal(offices.total, 4);
    const page = await rpc.call(TopologyRpc.listOffices, { limit: 2, offset: 1 });
    assert.deepEqual([page.items.map((o) => o.id), page.total, page.items[0].wan], [['paris', 'lyon'], 4, { bandwidthKbps: 20000 }]);

    const wifi = await rpc.call(TopologyRpc.devicePeers, { deviceId: 'dev-p1' });
    assert.deepEqual([wifi.policy, wifi.noSharingReason, wifi.peers, wifi.total], [{ shareWithPeers: true, multicastDiscovery: false }, null, [{ deviceId: 'dev-p2', address: '10.1.0.12' }], 1]);
    const vpn = await rpc.call(TopologyRpc.devicePeers, { deviceId: 'dev-l1' });
    assert.deepEqual([vpn.peers, vpn.total], [[], 0]);
    assert.match(vpn.noSharingReason!, /office "lyon" is a vpn office: its devices never share content/);
    const away = await rpc.call(TopologyRpc.devicePeers, { deviceId: 'dev-away' });
    assert.match(away.noSharingReason!, /dev-away is in no office's subnets/);
    const central = await rpc.call(TopologyRpc.devicePeers, { deviceId: 'dev-hq' });
    assert.deepEqual(central.peers, [], 'the unplaced device is nobody\'s peer, though put in the same office');

    const path = await rpc.call(TopologyRpc.wanPath, { deviceId: 'dev-l1' });
    assert.deepEqual(path.links, [
      { from: 'lyon', to: 'paris', bandwidthKbps: 5000 },
      { from: 'paris', to: 'hq', bandwidthKbps: 20000 },
    ]);
    assert.equal(path.bottleneckKbps, 5000);
    assert.deepEqual(path.origin, { officeId: 'hq', addresses: ['10.0.0.10'] });
    assert.deepEqual((await rpc.call(TopologyRpc.wanPath, { deviceId: 'dev-hq' })).links, []);
    assert.equal((await refusal(rpc.call(TopologyRpc.deviceOffice, { deviceId: 'dev-never' }))).code, ErrorCode.TopologyDeviceUnknown);
    const badRequest = await refusal(rpc.call(TopologyRpc.deviceOffice, { deviceId: 'not a device' } as never));
    assert.equal(badRequest.code, ErrorCode.ContractInvalid);
  });

  it("answers an agent its own office's policy, as that device, and never another device's", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'topology-device-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const creds = await provisionDeviceCreds(trustDir, 'dev-l1', dir);
    const device = await connectNats({ servers: natsUrl, authenticator: natsAuthenticator({ credsFile: creds }), inboxPrefix: deviceInboxPrefix('dev-l1'), name: 'dev-l1' });
    cleanup.push(() => device.close());
    const policy = await new RpcClient(device).callAsDevice(TopologyDeviceRpc.getPolicy, 'dev-l1', {});
    assert.deepEqual(policy, {
      deviceId: 'dev-l1',
      topologyVersion: 1,
      office: { id: 'lyon', name: 'Lyon', type: 'vpn' },
      placed: true,
      policy: { shareWithPeers: false, multicastDiscovery: false },
      wanBandwidthKbps: 5000,
      bottleneckKbps: 5000,
      // The link's cap for the fleet's downloads, from the document.
      wanRateCapKbps: 4000,
    });
    // The server refuses the publish on another device's subject: the request never reaches the service.
    await assert.rejects(new RpcClient(device, 1500).callAsDevice(TopologyDeviceRpc.getPolicy, 'dev-l2', {}));
    const central = await rpc.callAsDevice(TopologyDeviceRpc.getPolicy, 'dev-hq', {});
    assert.deepEqual([central.policy, central.wanBandwidthKbps, central.bottleneckKbps, central.wanRateCapKbps], [{ shareWithPeers: true, multicastDiscovery: true }, null, null, null]);
  });

  it('moves a device when a newer scan has a new address, and never for an older scan', async () => {
    await publishScan(nc, scan('dev-p2', 5, ['10.3.0.12']));
    await waitFor(async () => (await rpc.call(TopologyRpc.deviceOffice, { deviceId: 'dev-p2' })).office.id === 'nice', { description: 'dev-p2 moved to nice' });
    await publishScan(nc, scan('dev-p2', 3, ['10.1.0.12']));
    // A later scan of another device shows the late one was handled (one consumer, in order).
    await publishScan(nc, scan('dev-marker', 1, ['10.3.0.99']));
    await waitFor(async () => (await db.query(`SELECT 1 FROM topology.placements WHERE device_id = 'dev-marker'`)).rowCount === 1, { description: 'the marker scan placed' });
    assert.equal((await rpc.call(TopologyRpc.deviceOffice, { deviceId: 'dev-p2' })).office.id, 'nice', 'the older scan changed nothing');
    await waitFor(async () => (await outboxBacklog(db)) === 0, { description: 'the outbox to drain' });
    const placed = await readEvents<DevicePlacedV1>(nc, TOPOLOGY_EVENTS, 'topology.evt.device.placed.v1.dev-p2');
    assert.deepEqual(placed.map((e) => [e.data.previousOfficeId, e.data.officeId]), [[null, 'paris'], ['paris', 'nice']]);
  });

  it('dead-letters a scan it cannot read and goes on with the next', async () => {
    await nc.jetstream().publish(InventoryScanSubmitted.subject('dev-bad'), new TextEncoder().encode('{not json'));
    await nc.jetstream().publish(InventoryScanSubmitted.subject('dev-bad'), new TextEncoder().encode(JSON.stringify(scan('dev-other', 1, ['10.3.0.50']))));
    await publishScan(nc, scan('dev-late', 1, ['10.3.0.51']));
    await waitFor(async () => (await db.query(`SELECT 1 FROM topology.placements WHERE device_id = 'dev-late'`)).rowCount === 1, { description: 'the valid scan placed' });
    assert.equal((await db.query(`SELECT 1 FROM topology.placements WHERE device_id IN ('dev-bad', 'dev-other')`)).rowCount, 0);
    const dead = await readEvents<{ consumer: string; reason: { code: string } }>(nc, Streams.deadLetters.name, 'system.evt.message.dead-lettered.v1.topology-scan-placement');
    assert.deepEqual(dead.map((d) => d.data.reason.code), [ErrorCode.ContractInvalid, ErrorCode.DeviceMismatch]);
  });

  it('refuses a change made against an old version; a new version places devices again and records who changed what', async () => {
    const next = document();
    next.offices[3]!.subnets = ['10.3.0.0/24', '192.0.2.0/24'];
    next.offices[2]!.type = 'default';
    const conflict = await refusal(rpc.call(TopologyRpc.upload, { document: next, author: 'bob', baseVersion: 0 }));
    assert.equal(conflict.code, ErrorCode.TopologyVersionConflict);
    assert.match(conflict.message, /against version 0, but the current version is 1/);

    const v2 = await rpc.call(TopologyRpc.upload, { document: next, author: 'bob', baseVersion: 1 });
    assert.equal(v2.summary.text, '2 offices changed (lyon, nice); 1 subnet added');
    const away = await rpc.call(TopologyRpc.deviceOffice, { deviceId: 'dev-away' });
    assert.deepEqual([away.office.id, away.placed, away.address, away.topologyVersion], ['nice', true, '192.0.2.5', 2]);
    assert.equal((await rpc.call(TopologyRpc.listUnplaced, {})).total, 0);
    assert.deepEqual((await rpc.call(TopologyRpc.devicePeers, { deviceId: 'dev-l1' })).peers, [{ deviceId: 'dev-l2', address: '10.2.0.12' }], 'lyon shares now');

    const versions = await rpc.call(TopologyRpc.listVersions, {});
    assert.deepEqual(versions.items.map((v) => [v.version, v.author, v.comment]), [[2, 'bob', null], [1, 'alice', 'first offices']]);
    const first = await rpc.call(TopologyRpc.get, { version: 1 });
    assert.deepEqual(first.document.offices[3]!.subnets, ['10.3.0.0/24']);
    assert.equal((await rpc.call(TopologyRpc.get, {})).version.version, 2);
    assert.equal((await refusal(rpc.call(TopologyRpc.get, { version: 9 }))).code, ErrorCode.TopologyVersionNotFound);

    await waitFor(async () => (await outboxBacklog(db)) === 0, { description: 'the outbox to drain' });
    const changed = await readEvents<TopologyChangedV1>(nc, TOPOLOGY_EVENTS, 'topology.evt.topology.changed.>');
    assert.deepEqual(changed.map((e) => [e.data.version, e.data.previousVersion, e.data.devicesMoved]), [[1, null, 1], [2, 1, 1]]);
    const { rows } = await db.query(`SELECT cidr::text AS cidr, office_id FROM topology.subnets WHERE office_id = 'nice' ORDER BY cidr`);
    assert.deepEqual(rows, [{ cidr: '10.3.0.0/24', office_id: 'nice' }, { cidr: '192.0.2.0/24', office_id: 'nice' }]);
  });

  it('generates a draft from the devices the inventory lists, without storing it', async () => {
    const sc = StringCodec();
    const calls: unknown[] = [];
    const device = (id: string, address: string, gateway: string) => ({
      id, hostname: id, platform: 'linux', osVersion: '12', agentVersion: '1.0.0', cachedContentIds: [], cacheFreeBytes: 0, lastSeenAt: new Date().toISOString(), stale: false, subnets: [],
      interfaces: [{ name: 'eth0', mac: null, gateway, addresses: [{ family: 'ipv4', address, prefixLength: 24 }] }],
    });
    const sub = nc.subscribe(InventoryRpc.listDevices.subject, {
      callback: (_error, msg) => {
        calls.push(JSON.parse(sc.decode(msg.data)));
        const items = [device('a', '10.0.0.5', '10.0.0.1'), device('b', '10.7.0.5', '10.7.0.1'), device('c', '10.7.1.5', '10.7.0.1')];
        msg.respond(sc.encode(JSON.stringify({ ok: true, data: { items, total: 3 } } satisfies RpcReply)));
      },
    });
    cleanup.push(async () => sub.unsubscribe());
    await nc.flush();
    const draft = await rpc.call(TopologyRpc.generateDraft, { originAddresses: ['10.0.0.10'] });
    assert.deepEqual(calls, [{ limit: 1000, offset: 0 }]);
    assert.deepEqual(draft.document.offices.map((o) => [o.id, o.parent, o.subnets]), [
      ['office-10-0-0-0-24', null, ['10.0.0.0/24']],
      ['office-10-7-0-0-24', 'office-10-0-0-0-24', ['10.7.0.0/24', '10.7.1.0/24']],
    ]);
    assert.deepEqual(draft.problems, []);
    assert.equal((await rpc.call(TopologyRpc.get, {})).version.version, 2, 'a draft is not stored');
  });
});
