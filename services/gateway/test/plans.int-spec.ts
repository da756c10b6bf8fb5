// The gateway's what-if planner, WAN savings report and paginated lists against a real NATS server,
// with the tasks, inventory and topology services stood in for by NATS responders that hold a
// seeded fleet: two branches behind their WAN links, a vpn office, the central office.
import { after, before, describe, it, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { INestApplication } from '@nestjs/common';
import { connect, NatsConnection } from 'nats';
import request from 'supertest';
import {
  DEFAULT_AGENT_SETTINGS,
  ErrorCode,
  InventoryRpc,
  Package,
  Plan,
  Profile,
  ReportsRpc,
  ResolvedTargetsPage,
  RpcReply,
  StoredTopology,
  TasksRpc,
  TopologyRpc,
  WanSavingsReport,
} from '@fleetcast/contracts';
import { startNatsServer, stopAll } from '@fleetcast/testing';
import { hashedEntry, parseApiTokens } from '../src/auth/api-tokens';
import { startTestGateway } from './support/test-gateway';
import { standIn } from './support/rpc-stand-in';

const TOKEN = 'plans-reader-token-0123456789';
const auth = `Bearer ${TOKEN}`;
const MiB = 1024 * 1024;
const SIZE = 20 * MiB;
/** A full TCP segment's frame over its payload: what a WAN copy weighs on the link. */
const WIRE = 1514 / 1448;

const pkg: Package = {
  id: 'pkg-1',
  name: 'tool',
  version: '1.0.0',
  platform: 'linux',
  installCommand: '/bin/true',
  installArgs: [],
  successExitCodes: [0],
  timeoutSeconds: 60,
  status: 'ready',
  contentId: 'a'.repeat(64),
  size: SIZE,
  createdAt: '2026-01-01T00:00:00.000Z',
};
const defaultProfile: Profile = { id: 'prof-default', name: 'Default', isDefault: true, updatedAt: '2026-01-01T00:00:00.000Z', ...DEFAULT_AGENT_SETTINGS };
const slowProfile: Profile = { ...defaultProfile, id: 'prof-slow', name: 'Slow LAN', isDefault: false, lanRateLimitKbps: 8000 };

/** The seeded inventory: five devices in Lyon, five in Nice, two in the vpn office, one at HQ. */
const fleet: Record<string, string> = {
  ...Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`lyon-${i}`, '10.1.1.0/24'])),
  ...Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`nice-${i}`, '10.1.2.0/24'])),
  'home-1': '10.8.0.0/24',
  'home-2': '10.8.0.0/24',
  'hq-1': '10.0.3.0/24',
};
const topology: StoredTopology = {
  version: {
    version: 7,
    author: 'root',
    comment: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    summary: { officesAdded: 5, officesRemoved: 0, officesChanged: 0, subnetsAdded: 5, subnetsRemoved: 0, addedOfficeIds: [], removedOfficeIds: [], changedOfficeIds: [], originChanged: true, defaultOfficeChanged: false, text: '5 offices added' },
  },
  document: {
    schemaVersion: 1,
    origin: { addresses: ['10.0.0.10'] },
    defaultOffice: null,
    offices: [
      { id: 'hq', name: 'HQ', type: 'default', parent: null, subnets: ['10.0.0.0/16'], wan: null },
      { id: 'south', name: 'South region', type: 'default', parent: 'hq', subnets: ['10.1.0.0/24'], wan: { bandwidthKbps: 30_000 } },
      { id: 'lyon', name: 'Lyon', type: 'default', parent: 'south', subnets: ['10.1.1.0/24'], wan: { bandwidthKbps: 20_000 } },
      { id: 'nice', name: 'Nice', type: 'default', parent: 'south', subnets: ['10.1.2.0/24'], wan: { bandwidthKbps: 20_000 } },
      { id: 'home', name: 'Home workers', type: 'vpn', parent: 'hq', subnets: ['10.8.0.0/16'], wan: { bandwidthKbps: 10_000 } },
    ],
  },
};

/** What the inventory answers for a page of a target set of the seeded fleet (unknown IDs as unknown), two devices a page for a query. */
function resolvePage(req: Record<string, unknown>): ResolvedTargetsPage {
  if (req.deviceIds) {
    return { devices: (req.deviceIds as string[]).map((deviceId) => ({ deviceId, subnet: fleet[deviceId] ?? null, known: deviceId in fleet })), next: null };
  }
  const matching = Object.keys(fleet)
    .filter((id) => (req.query as { subnet?: string }).subnet === fleet[id])
    .sort()
    .filter((id) => req.after === undefined || id > (req.after as string));
  const page = matching.slice(0, 2);
  return { devices: page.map((deviceId) => ({ deviceId, subnet: fleet[deviceId], known: true })), next: matching.length > 2 ? page[1] : null };
}

describe('gateway: what-if plans, the WAN savings report, paginated lists', () => {
  let nc: NatsConnection;
  let app: INestApplication | undefined;
  let baseUrl: string;
  const api = () => request(baseUrl);

  /** The seeded services; `topologyAnswer` replaced by a test that wants none. */
  const seed = async (t: TestContext, options: { topology?: RpcReply; packageAnswer?: RpcReply } = {}) => ({
    packages: await standIn(nc, t, TasksRpc.getPackage.subject, (req) =>
      options.packageAnswer ?? (req.id === pkg.id ? { ok: true, data: pkg } : { ok: false, error: { code: ErrorCode.PackageNotFound, message: `package ${String(req.id)} not found` } }),
    ),
    profiles: await standIn(nc, t, TasksRpc.listProfiles.subject, () => ({ ok: true, data: { items: [slowProfile, defaultProfile], total: 2 } })),
    profile: await standIn(nc, t, TasksRpc.getProfile.subject, (req) =>
      req.id === slowProfile.id ? { ok: true, data: slowProfile } : { ok: false, error: { code: ErrorCode.ProfileNotFound, message: `profile ${String(req.id)} not found` } },
    ),
    inventory: await standIn(nc, t, InventoryRpc.resolveTargetsPage.subject, (req) => ({ ok: true, data: resolvePage(req) })),
    topology: await standIn(nc, t, TopologyRpc.get.subject, () => options.topology ?? { ok: true, data: topology }),
  });

  before(async () => {
    const nats = await startNatsServer();
    nc = await connect(nats.adminConnectOptions());
    ({ app, baseUrl } = await startTestGateway(nats, { apiTokens: hashedEntry('reader', 'read-only', TOKEN), logName: 'gateway-plans-int-test', planDefaultWanKbps: 5_000 }));
  });

  after(async () => {
    await app?.close();
    await nc?.close();
    await stopAll();
  });

  describe('POST /v1/plans', () => {
    const all = Object.keys(fleet);

    it('plans the seeded fleet per subnet and office from the topology, with a read-only token', async (t) => {
      await seed(t);
      const res = await api().post('/v1/plans').set('authorization', auth).send({ packageId: pkg.id, targets: { deviceIds: all } }).expect(200);
      const plan = res.body as Plan;
      const copy = Math.round(SIZE * WIRE);
      assert.equal(plan.topologyVersion, 7);
      assert.equal(plan.devices, 13);
      assert.deepEqual(plan.settings, { profileId: defaultProfile.id, useMulticast: true, sessionStartDelaySeconds: 60, peerDownloadAllowed: true, lanRateLimitKbps: null });
      const bySubnet = Object.fromEntries(plan.subnets.map((s) => [s.subnet, s]));
      assert.deepEqual(
        plan.subnets.map((s) => [s.subnet, s.officeId, s.devices, s.sharing, s.noSharing?.code ?? null]),
        [
          ['10.1.1.0/24', 'lyon', 5, 'multicast', null],
          ['10.1.2.0/24', 'nice', 5, 'multicast', null],
          ['10.8.0.0/24', 'home', 2, 'none', 'office-type'],
          ['10.0.3.0/24', 'hq', 1, 'multicast', null],
        ],
      );
      assert.equal(bySubnet['10.1.1.0/24'].withSharing.wanBytes, copy);
      assert.equal(bySubnet['10.1.1.0/24'].withoutSharing.wanBytes, Math.round(SIZE * WIRE * 5));
      assert.equal(bySubnet['10.8.0.0/24'].withSharing.wanBytes, Math.round(SIZE * WIRE * 2));
      assert.equal(bySubnet['10.0.3.0/24'].withSharing.wanBytes, 0, 'HQ crosses no WAN link');
      // Lyon's and Nice's copies share the region's 30 Mbit/s: without sharing, ten copies do.
      const south = plan.offices.find((o) => o.id === 'south')!;
      assert.equal(south.withSharing.linkBytes, 2 * copy);
      assert.equal(south.withoutSharing.linkBytes, 2 * Math.round(SIZE * WIRE * 5));
      const tenCopiesAt30 = (SIZE * WIRE * 10 * 8) / 30_000_000;
      assert.ok(Math.abs(bySubnet['10.1.1.0/24'].withoutSharing.seconds - (1 + tenCopiesAt30 + 1)) < 0.2, `without sharing: ${bySubnet['10.1.1.0/24'].withoutSharing.seconds}`);
      assert.ok(plan.withSharing.seconds < plan.withoutSharing.seconds);
      assert.equal(plan.savedWanBytes, plan.withoutSharing.wanBytes - plan.withSharing.wanBytes);
      assert.ok(plan.savedWanBytes > 7 * copy);
    });

    it("takes the profile's settings with the request's over them, and targets by query", async (t) => {
      const services = await seed(t);
      const res = await api()
        .post('/v1/plans')
        .set('authorization', auth)
        .send({ packageId: pkg.id, targets: { query: { subnet: '10.1.1.0/24' } }, profileId: slowProfile.id, settings: { useMulticast: false } })
        .expect(200);
      const plan = res.body as Plan;
      // Five devices match, two a page: three pages, each after the last one's final ID.
      assert.deepEqual(services.inventory.calls.map((c) => c.after ?? null), [null, 'lyon-2', 'lyon-4']);
      assert.deepEqual(services.inventory.calls[0], { query: { subnet: '10.1.1.0/24', includeStale: false }, limit: 2000 });
      assert.equal(plan.devices, 5);
      assert.equal(plan.settings.profileId, slowProfile.id);
      assert.equal(plan.settings.lanRateLimitKbps, 8000);
      assert.equal(plan.settings.useMulticast, false);
      assert.equal(plan.subnets[0].noSharing?.code, 'profile-disables-multicast');
      assert.equal(plan.withSharing.wanBytes, plan.withoutSharing.wanBytes);
    });

    it('without a topology every subnet stands alone behind the configured or requested bandwidth', async (t) => {
      await seed(t, { topology: { ok: false, error: { code: ErrorCode.NoTopology, message: 'no topology has been uploaded yet' } } });
      const configured = (await api().post('/v1/plans').set('authorization', auth).send({ packageId: pkg.id, targets: { deviceIds: ['lyon-1', 'lyon-2'] } }).expect(200)).body as Plan;
      assert.equal(configured.topologyVersion, null);
      assert.deepEqual(configured.offices, []);
      assert.equal(configured.assumptions.defaultWanKbps, 5_000);
      assert.ok(Math.abs(configured.withoutSharing.seconds - (1 + (SIZE * WIRE * 2 * 8) / 5_000_000 + 1)) < 0.2);
      const requested = (await api().post('/v1/plans').set('authorization', auth).send({ packageId: pkg.id, targets: { deviceIds: ['lyon-1', 'lyon-2'] }, defaultWanBandwidthKbps: 50_000 }).expect(200)).body as Plan;
      assert.equal(requested.assumptions.defaultWanKbps, 50_000);
      assert.ok(requested.withoutSharing.seconds < configured.withoutSharing.seconds / 5);
    });

    const badBodies: Array<{ name: string; body: unknown; field: RegExp }> = [
      { name: 'no packageId', body: { targets: { deviceIds: ['lyon-1'] } }, field: /packageId/ },
      { name: 'targets with neither form', body: { packageId: pkg.id, targets: {} }, field: /targets: give deviceIds or query/ },
      { name: 'a device ID that cannot be one', body: { packageId: pkg.id, targets: { deviceIds: ['a.b'] } }, field: /targets\.deviceIds\.0/ },
      { name: 'a setting of the wrong type', body: { packageId: pkg.id, targets: { deviceIds: ['lyon-1'] }, settings: { useMulticast: 'yes' } }, field: /settings\.useMulticast/ },
      { name: 'a setting the planner does not take', body: { packageId: pkg.id, targets: { deviceIds: ['lyon-1'] }, settings: { cacheSizeLimitBytes: 5 } }, field: /settings/ },
      { name: 'a bandwidth of zero', body: { packageId: pkg.id, targets: { deviceIds: ['lyon-1'] }, defaultWanBandwidthKbps: 0 }, field: /defaultWanBandwidthKbps/ },
    ];
    for (const c of badBodies) {
      it(`400 naming the field: ${c.name}`, async (t) => {
        const services = await seed(t);
        const res = await api().post('/v1/plans').set('authorization', auth).send(c.body as object).expect(400);
        assert.equal(res.body.code, ErrorCode.ContractInvalid);
        assert.match(res.body.message, c.field);
        assert.equal(services.packages.calls.length, 0, 'no service asked');
      });
    }

    it('404 for an unknown package, profile or devices, naming them', async (t) => {
      await seed(t);
      const noPackage = await api().post('/v1/plans').set('authorization', auth).send({ packageId: 'nope', targets: { deviceIds: ['lyon-1'] } }).expect(404);
      assert.equal(noPackage.body.code, ErrorCode.PackageNotFound);
      const noProfile = await api().post('/v1/plans').set('authorization', auth).send({ packageId: pkg.id, targets: { deviceIds: ['lyon-1'] }, profileId: 'gone' }).expect(404);
      assert.equal(noProfile.body.code, ErrorCode.ProfileNotFound);
      const noDevices = await api().post('/v1/plans').set('authorization', auth).send({ packageId: pkg.id, targets: { deviceIds: ['lyon-1', 'ghost-1', 'ghost-2'] } }).expect(404);
      assert.equal(noDevices.body.code, ErrorCode.DeviceNotFound);
      assert.match(noDevices.body.message, /2 target device\(s\) unknown to the inventory: ghost-1, ghost-2/);
    });

    it('409 before the content is uploaded: the size is not known yet', async (t) => {
      await seed(t, { packageAnswer: { ok: true, data: { ...pkg, status: 'awaiting-content', contentId: null, size: null } } });
      const res = await api().post('/v1/plans').set('authorization', auth).send({ packageId: pkg.id, targets: { deviceIds: ['lyon-1'] } }).expect(409);
      assert.equal(res.body.code, ErrorCode.PackageNotReady);
    });

    it('400 TASKS.NO_TARGETS when the query matches no device', async (t) => {
      await seed(t);
      const empty = await api().post('/v1/plans').set('authorization', auth).send({ packageId: pkg.id, targets: { query: { subnet: '192.168.9.0/24' } } }).expect(400);
      assert.equal(empty.body.code, ErrorCode.NoTargets);
    });

    it('401 without a token', async () => {
      await api().post('/v1/plans').send({ packageId: pkg.id, targets: { deviceIds: ['lyon-1'] } }).expect(401);
    });
  });

  describe('GET /v1/reports/wan-savings', () => {
    // As the tasks service gives them; rows without `parent` are an older tasks service's (read as 0).
    const rows = [
      { subnet: '10.1.1.0/24', bytes: { origin: 100, multicast: 400, peer: 0 } },
      { subnet: '10.1.2.0/24', bytes: { origin: 100, parent: 60, multicast: 300, peer: 100 } },
      { subnet: '10.8.0.0/24', bytes: { origin: 200, multicast: 0, peer: 0 } },
      { subnet: '10.1.0.0/24', bytes: { origin: 50, multicast: 0, peer: 50 } },
      { subnet: null, bytes: { origin: 10, multicast: 0, peer: 0 } },
    ];
    const range = 'from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z';

    it('per subnet, most saved first, with totals; the range passed on', async (t) => {
      const calls = (await standIn(nc, t, ReportsRpc.bytesBySubnet.subject, () => ({ ok: true, data: { items: rows } }))).calls;
      const report = (await api().get(`/v1/reports/wan-savings?${range}`).set('authorization', auth).expect(200)).body as WanSavingsReport;
      assert.deepEqual(calls, [{ from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z' }]);
      assert.equal(report.groupBy, 'subnet');
      assert.deepEqual(report.items.map((r) => [r.key, r.savedBytes]), [['10.1.1.0/24', 400], ['10.1.2.0/24', 400], ['10.1.0.0/24', 50], ['10.8.0.0/24', 0], [null, 0]]);
      assert.equal(report.items[0].savedRatio, 0.8);
      // Bytes from the parent office crossed the office's WAN link: not saved.
      assert.equal(report.items[1].savedRatio, 400 / 560);
      assert.deepEqual(report.totals, { bytes: { origin: 460, parent: 60, multicast: 700, peer: 150 }, savedBytes: 850, savedRatio: 850 / 1370 });
    });

    it('per office of the current topology', async (t) => {
      await standIn(nc, t, ReportsRpc.bytesBySubnet.subject, () => ({ ok: true, data: { items: rows } }));
      await standIn(nc, t, TopologyRpc.get.subject, () => ({ ok: true, data: topology }));
      const report = (await api().get(`/v1/reports/wan-savings?${range}&groupBy=office`).set('authorization', auth).expect(200)).body as WanSavingsReport;
      assert.equal(report.topologyVersion, 7);
      assert.deepEqual(
        report.items.map((r) => [r.key, r.name, r.bytes]),
        [
          ['lyon', 'Lyon', { origin: 100, parent: 0, multicast: 400, peer: 0 }],
          ['nice', 'Nice', { origin: 100, parent: 60, multicast: 300, peer: 100 }],
          ['south', 'South region', { origin: 50, parent: 0, multicast: 0, peer: 50 }],
          ['home', 'Home workers', { origin: 200, parent: 0, multicast: 0, peer: 0 }],
          [null, null, { origin: 10, parent: 0, multicast: 0, peer: 0 }],
        ],
      );
    });

    it('400 naming the field for a bad range; 404 per office without a topology', async (t) => {
      await standIn(nc, t, ReportsRpc.bytesBySubnet.subject, () => ({ ok: true, data: { items: rows } }));
      await standIn(nc, t, TopologyRpc.get.subject, () => ({ ok: false, error: { code: ErrorCode.NoTopology, message: 'no topology has been uploaded yet' } }));
      const reversed = await api().get('/v1/reports/wan-savings?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z').set('authorization', auth).expect(400);
      assert.match(reversed.body.message, /to: from must be before to/);
      const missing = await api().get('/v1/reports/wan-savings?to=2026-11-01T00:00:00Z').set('authorization', auth).expect(400);
      assert.match(missing.body.message, /from/);
      const badGroup = await api().get(`/v1/reports/wan-savings?${range}&groupBy=city`).set('authorization', auth).expect(400);
      assert.match(badGroup.body.message, /groupBy/);
      const noTopology = await api().get(`/v1/reports/wan-savings?${range}&groupBy=office`).set('authorization', auth).expect(404);
      assert.equal(noTopology.body.code, ErrorCode.NoTopology);
    });
  });

  describe('paginated subnets and offices', () => {
    it('GET /v1/subnets passes limit and offset on, with the defaults when absent', async (t) => {
      const calls = (await standIn(nc, t, InventoryRpc.listSubnets.subject, () => ({ ok: true, data: { items: [], total: 0 } }))).calls;
      await api().get('/v1/subnets').set('authorization', auth).expect(200);
      await api().get('/v1/subnets?limit=2&offset=4').set('authorization', auth).expect(200);
      assert.deepEqual(calls, [{ limit: 100, offset: 0 }, { limit: 2, offset: 4 }]);
      const bad = await api().get('/v1/subnets?limit=0').set('authorization', auth).expect(400);
      assert.match(bad.body.message, /limit/);
    });

    it('GET /v1/topology/offices passes limit and offset on', async (t) => {
      const page = { items: [{ ...topology.document.offices[1], deviceCount: 4 }], total: 5, topologyVersion: 7 };
      const calls = (await standIn(nc, t, TopologyRpc.listOffices.subject, () => ({ ok: true, data: page }))).calls;
      const res = await api().get('/v1/topology/offices?limit=1&offset=1').set('authorization', auth).expect(200);
      assert.deepEqual(res.body, page);
      assert.deepEqual(calls, [{ limit: 1, offset: 1 }]);
    });
  });

  it('the API document describes the plan and report routes', async () => {
    const doc = (await api().get('/docs-json').expect(200)).body as { paths: Record<string, Record<string, { requestBody?: unknown; parameters?: Array<{ name: string }> }>>; components: { schemas: Record<string, unknown> } };
    assert.ok(doc.paths['/v1/plans']?.post?.requestBody, 'POST /v1/plans with its body');
    assert.deepEqual(doc.paths['/v1/reports/wan-savings']?.get?.parameters?.map((p) => p.name).sort(), ['from', 'groupBy', 'to']);
    assert.ok(doc.paths['/v1/topology/offices']?.get);
    assert.ok(doc.components.schemas.Plan && doc.components.schemas.PlanRequest && doc.components.schemas.WanSavingsReport);
  });
});
