import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { AgentVersionStatus, ErrorCode, FleetcastError, InventoryScanV1 } from '@fleetcast/contracts';
import { createLogger, createMetricsRegistry, Registry } from '@fleetcast/telemetry';
import { DeviceRecord, latestScanPerDevice, toDeviceRecord, unstorableReason } from './device-record';
import { DeviceFilter, DeviceRow, DeviceSubnetRow, DevicesRepository, SubnetRow } from './devices.repository';
import { DevicesService, groupBySubnet } from './devices.service';

function scan(deviceId: string, scanSeq: number, overrides: Partial<InventoryScanV1> = {}): InventoryScanV1 {
  return {
    deviceId,
    scanSeq,
    scannedAt: '2026-01-01T00:00:00.000Z',
    hostname: `host-${deviceId}`,
    platform: 'linux',
    osVersion: 'Debian 12',
    agentVersion: '0.1.0',
    interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', gateway: '10.0.0.1', addresses: [{ family: 'ipv4', address: '10.0.0.9', prefixLength: 24 }] }],
    cache: { contentIds: [], freeBytes: 1024 },
    ...overrides,
  };
}

/** A repository that records calls and answers from fixed data: the service's logic without a database. */
class FakeRepository {
  upserts: DeviceRecord[][] = [];
  devices = new Map<string, DeviceSubnetRow>();
  lastFilter?: DeviceFilter;
  /** IDs the fake "database" reports as written; default: all. */
  writtenFilter: (record: DeviceRecord) => boolean = () => true;

  async upsertNewer(records: readonly DeviceRecord[]): Promise<string[]> {
    this.upserts.push([...records]);
    return records.filter(this.writtenFilter).map((r) => r.id);
  }
  async findById(): Promise<DeviceRow | null> {
    return null;
  }
  async list(filter: DeviceFilter): Promise<{ rows: DeviceRow[]; total: number }> {
    this.lastFilter = filter;
    return { rows: [], total: 0 };
  }
  async subnets(): Promise<SubnetRow[]> {
    return [
      { cidr: '2001:db8::/64', deviceCount: 1, staleCount: 0 },
      { cidr: '10.0.10.0/24', deviceCount: 2, staleCount: 1 },
      { cidr: '10.0.2.0/24', deviceCount: 3, staleCount: 0 },
    ];
  }
  async primarySubnetsOf(ids: readonly string[]): Promise<DeviceSubnetRow[]> {
    return ids.flatMap((id) => (this.devices.has(id) ? [this.devices.get(id)!] : []));
  }
  async matching(filter: DeviceFilter): Promise<DeviceSubnetRow[]> {
    this.lastFilter = filter;
    return [...this.devices.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }
  /** Stored agent versions with the range each was judged against (null: never judged). */
  judged = new Map<string, string | null>();
  statusUpdates: Array<[string, AgentVersionStatus, string]> = [];
  async agentVersionsJudgedOtherwise(range: string): Promise<string[]> {
    return [...this.judged.entries()].filter(([, judgedAgainst]) => judgedAgainst !== range).map(([version]) => version);
  }
  async setVersionStatus(version: string, status: AgentVersionStatus, range: string): Promise<number> {
    this.statusUpdates.push([version, status, range]);
    this.judged.set(version, range);
    return 10;
  }
}

/** A target row of a supported device. */
const target = (id: string, primarySubnet: string | null): DeviceSubnetRow => ({ id, primarySubnet, versionState: 'supported', versionReason: null });

const RANGE = '>=0.1.0 <1.0.0';

function service(repository = new FakeRepository(), metrics = createMetricsRegistry('inventory-test'), range = RANGE) {
  const config = { STALE_AFTER_SECONDS: 60, SUPPORTED_AGENT_VERSIONS: range };
  const devices = new DevicesService(repository as unknown as DevicesRepository, config, metrics, createLogger('inventory-test', 'silent'));
  return { devices, repository, metrics };
}

/** Sum of a counter's samples with the given labels, or a histogram's observation count. */
async function metricValue(metrics: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const { type, values } = await metrics.getSingleMetric(name)!.get();
  return values
    .filter((v) => String(type) !== 'histogram' || (v as { metricName?: string }).metricName === `${name}_count`)
    .filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('latestScanPerDevice (batch de-duplication)', () => {
  it('keeps the highest scanSeq of each device, whatever the arrival order, sorted by device ID', () => {
    const batch = [scan('b', 3), scan('a', 7), scan('b', 5), scan('a', 2), scan('c', 1), scan('b', 4)];
    assert.deepEqual(
      latestScanPerDevice(batch).map((s) => [s.deviceId, s.scanSeq]),
      [
        ['a', 7],
        ['b', 5],
        ['c', 1],
      ],
    );
  });

  it('keeps the first copy of a repeated scanSeq (a redelivery inside the batch)', () => {
    const first = scan('a', 4, { hostname: 'first' });
    const repeat = scan('a', 4, { hostname: 'second' });
    assert.equal(latestScanPerDevice([first, repeat])[0], first);
  });

  it('returns nothing for nothing', () => {
    assert.deepEqual(latestScanPerDevice([]), []);
  });
});

describe('toDeviceRecord', () => {
  it('derives subnets and the primary subnet from the interfaces', () => {
    const record = toDeviceRecord(
      scan('d1', 1, {
        interfaces: [
          { name: 'lo', mac: null, gateway: null, addresses: [{ family: 'ipv4', address: '127.0.0.1', prefixLength: 8 }] },
          {
            name: 'eth0',
            mac: '02:00:00:00:00:01',
            gateway: null,
            addresses: [
              { family: 'ipv6', address: 'fe80::1', prefixLength: 64 },
              { family: 'ipv6', address: '2001:db8:0:5::9', prefixLength: 64 },
              { family: 'ipv4', address: '10.5.6.7', prefixLength: 16 },
            ],
          },
        ],
        cache: { contentIds: ['a'.repeat(64)], freeBytes: 5_000_000_000 },
      }),
      RANGE,
    );
    assert.equal(record.primarySubnet, '10.5.0.0/16');
    assert.deepEqual(record.subnets, ['10.5.0.0/16', '2001:db8:0:5::/64']);
    assert.deepEqual(record.cachedContentIds, ['a'.repeat(64)]);
    assert.equal(record.cacheFreeBytes, 5_000_000_000);
  });

  it('judges the agent version against the supported range and keeps the range it was judged against', () => {
    const supported = toDeviceRecord(scan('d1', 1), RANGE);
    assert.deepEqual([supported.versionState, supported.versionReason, supported.versionRange], ['supported', null, RANGE]);
    const old = toDeviceRecord(scan('d2', 1, { agentVersion: '0.0.9' }), RANGE);
    assert.equal(old.versionState, 'unsupported-version');
    assert.equal(old.versionReason, 'agent 0.0.9 is outside the supported range >=0.1.0 <1.0.0; upgrade the agent');
  });
});

describe('unstorableReason', () => {
  it('accepts an ordinary scan and names what Postgres could not store', () => {
    assert.equal(unstorableReason(scan('a', 1)), null);
    assert.match(unstorableReason(scan('a', 1, { hostname: 'bad\u0000name' }))!, /NUL/);
    assert.match(unstorableReason(scan('a', 2 ** 60))!, /scanSeq/);
    assert.match(unstorableReason(scan('a', 1, { scannedAt: '0000-01-01T00:00:00Z' }))!, /0000/);
    assert.match(unstorableReason(scan('a', 1, { hostname: 'half \ud83d pair' }))!, /surrogate/);
    assert.equal(unstorableReason(scan('a', 1, { hostname: 'whole \ud83d\ude00 pair' })), null);
  });
});

describe('DevicesService.ingest', () => {
  it('sends one de-duplicated, ordered batch to the repository and counts applied and superseded scans', async () => {
    const { devices, repository, metrics } = service();
    repository.writtenFilter = (record) => record.id !== 'b';
    const outcome = await devices.ingest([scan('c', 1), scan('b', 2), scan('c', 3), scan('a', 1)]);
    assert.equal(repository.upserts.length, 1);
    assert.deepEqual(
      repository.upserts[0]!.map((r) => [r.id, r.scanSeq]),
      [
        ['a', 1],
        ['b', 2],
        ['c', 3],
      ],
    );
    assert.deepEqual(outcome, { applied: 2, superseded: 2 });
    assert.equal(await metricValue(metrics, 'fleetcast_inventory_scans_ingested_total', { result: 'applied' }), 2);
    assert.equal(await metricValue(metrics, 'fleetcast_inventory_scans_ingested_total', { result: 'superseded' }), 2);
    assert.equal(await metricValue(metrics, 'fleetcast_inventory_scan_batch_size'), 1, 'one batch observed');
  });

  it('rejects the whole batch as CONTRACT.INVALID when one scan cannot be stored, writing nothing', async () => {
    const { devices, repository } = service();
    await assert.rejects(devices.ingest([scan('a', 1), scan('b', 1, { osVersion: 'x\u0000' })]), (error: FleetcastError) => {
      assert.equal(error.code, ErrorCode.ContractInvalid);
      assert.match(error.message, /device b/);
      return true;
    });
    assert.equal(repository.upserts.length, 0);
  });
});

describe('DevicesService queries', () => {
  it('getDevice of an unknown ID fails with INVENTORY.DEVICE_NOT_FOUND', async () => {
    await assert.rejects(service().devices.getDevice('nope'), (error: FleetcastError) => error.code === ErrorCode.DeviceNotFound);
  });

  it('listDevices normalises the subnet filter and rejects one that is not a CIDR, naming the field', async () => {
    const { devices, repository } = service();
    await devices.listDevices({ subnet: '10.1.2.99/24', limit: 10, offset: 0 });
    assert.equal(repository.lastFilter?.subnet, '10.1.2.0/24');
    await assert.rejects(devices.listDevices({ subnet: '10.1.2/24', limit: 10, offset: 0 }), (error: FleetcastError) => {
      assert.equal(error.code, ErrorCode.ContractInvalid);
      assert.deepEqual(error.details?.map((d) => d.path), ['subnet']);
      return true;
    });
  });

  it('listDevices passes the version state filter on', async () => {
    const { devices, repository } = service();
    await devices.listDevices({ versionState: 'unsupported-version', limit: 10, offset: 0 });
    assert.equal(repository.lastFilter?.versionState, 'unsupported-version');
  });

  it('listSubnets adds the family and sorts IPv4 numerically before IPv6', async () => {
    const { items } = await service().devices.listSubnets();
    assert.deepEqual(
      items.map((s) => [s.cidr, s.family]),
      [
        ['10.0.2.0/24', 'ipv4'],
        ['10.0.10.0/24', 'ipv4'],
        ['2001:db8::/64', 'ipv6'],
      ],
    );
  });

  it('listSubnets pages in that order and counts every subnet', async () => {
    const devices = service().devices;
    const cases: Array<{ limit: number; offset: number; want: string[] }> = [
      { limit: 2, offset: 0, want: ['10.0.2.0/24', '10.0.10.0/24'] },
      { limit: 2, offset: 2, want: ['2001:db8::/64'] },
      { limit: 100, offset: 3, want: [] },
    ];
    for (const c of cases) {
      const page = await devices.listSubnets({ limit: c.limit, offset: c.offset });
      assert.deepEqual(page.items.map((s) => s.cidr), c.want, `limit ${c.limit} offset ${c.offset}`);
      assert.equal(page.total, 3);
    }
  });
});

describe('DevicesService.resolveTargets', () => {
  function withDevices() {
    const repository = new FakeRepository();
    repository.devices.set('d1', target('d1', '10.0.2.0/24'));
    repository.devices.set('d2', target('d2', '10.0.1.0/24'));
    repository.devices.set('d3', target('d3', '10.0.2.0/24'));
    repository.devices.set('d4', target('d4', null));
    return service(repository);
  }

  it('reports explicit IDs in the given order, once each, unknown ones with known: false', async () => {
    const result = await withDevices().devices.resolveTargets({ deviceIds: ['d3', 'ghost', 'd1', 'd3', 'd4'] });
    assert.deepEqual(result.devices, [
      { deviceId: 'd3', subnet: '10.0.2.0/24', known: true },
      { deviceId: 'ghost', subnet: null, known: false },
      { deviceId: 'd1', subnet: '10.0.2.0/24', known: true },
      { deviceId: 'd4', subnet: null, known: true },
    ]);
    assert.deepEqual(result.bySubnet, [{ subnet: '10.0.2.0/24', deviceIds: ['d3', 'd1'] }]);
  });

  it('adds query matches that were not named, and excludes stale devices unless asked', async () => {
    const { devices, repository } = withDevices();
    const result = await devices.resolveTargets({ deviceIds: ['d3'], query: { platform: 'linux', includeStale: false } });
    assert.deepEqual(
      result.devices.map((d) => d.deviceId),
      ['d3', 'd1', 'd2', 'd4'],
    );
    assert.equal(repository.lastFilter?.stale, false);
    assert.equal(repository.lastFilter?.platform, 'linux');
    assert.deepEqual(result.bySubnet, [
      { subnet: '10.0.1.0/24', deviceIds: ['d2'] },
      { subnet: '10.0.2.0/24', deviceIds: ['d3', 'd1'] },
    ]);
    await devices.resolveTargets({ query: { includeStale: true } });
    assert.equal(repository.lastFilter?.stale, undefined);
  });

  it('keeps a device with an unsupported agent as a target, marked excluded with the reason, and out of its subnet group', async () => {
    const { devices, repository } = withDevices();
    const reason = 'agent 0.0.9 is outside the supported range >=0.1.0 <1.0.0; upgrade the agent';
    repository.devices.set('d5', { id: 'd5', primarySubnet: '10.0.2.0/24', versionState: 'unsupported-version', versionReason: reason });
    const result = await devices.resolveTargets({ deviceIds: ['d5', 'd1'], query: { platform: 'linux', includeStale: false } });
    assert.deepEqual(result.devices.slice(0, 2), [
      { deviceId: 'd5', subnet: '10.0.2.0/24', known: true, excluded: { code: ErrorCode.AgentUnsupportedVersion, message: reason } },
      { deviceId: 'd1', subnet: '10.0.2.0/24', known: true },
    ]);
    assert.deepEqual(
      result.devices.filter((d) => d.excluded).map((d) => d.deviceId),
      ['d5'],
      'a device matched by the query is excluded once, like a named one',
    );
    assert.deepEqual(result.bySubnet, [
      { subnet: '10.0.1.0/24', deviceIds: ['d2'] },
      { subnet: '10.0.2.0/24', deviceIds: ['d1', 'd3'] },
    ]);
  });

  it('resolves to nothing when given neither IDs nor a query', async () => {
    assert.deepEqual(await withDevices().devices.resolveTargets({}), { devices: [], bySubnet: [] });
  });

  it('rejects a query subnet that is not a CIDR, naming query.subnet', async () => {
    await assert.rejects(withDevices().devices.resolveTargets({ query: { subnet: 'office', includeStale: false } }), (error: FleetcastError) => {
      assert.deepEqual(error.details?.map((d) => d.path), ['query.subnet']);
      return true;
    });
  });

  it('groupBySubnet leaves out unknown devices and devices without a subnet', () => {
    assert.deepEqual(
      groupBySubnet([
        { deviceId: 'x', subnet: null, known: false },
        { deviceId: 'y', subnet: null, known: true },
        { deviceId: 'z', subnet: '2001:db8::/64', known: true },
      ]),
      [{ subnet: '2001:db8::/64', deviceIds: ['z'] }],
    );
  });
});

describe('DevicesService.reevaluateAgentVersions', () => {
  it('judges again, once per distinct version, only the versions judged against another range or never', async () => {
    const repository = new FakeRepository();
    repository.judged.set('0.0.9', null);
    repository.judged.set('0.1.0', '>=0.1.0');
    repository.judged.set('0.2.0', RANGE);
    const { devices } = service(repository, undefined, RANGE);
    assert.deepEqual(await devices.reevaluateAgentVersions(), { versions: 2, devices: 20 });
    assert.deepEqual(repository.statusUpdates, [
      ['0.0.9', { state: 'unsupported-version', reason: 'agent 0.0.9 is outside the supported range >=0.1.0 <1.0.0; upgrade the agent' }, RANGE],
      ['0.1.0', { state: 'supported', reason: null }, RANGE],
    ]);
    assert.deepEqual(await devices.reevaluateAgentVersions(), { versions: 0, devices: 0 }, 'nothing left to judge under the same range');
  });
});
