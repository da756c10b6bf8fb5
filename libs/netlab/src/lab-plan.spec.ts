import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lossRuleset, routeConflict } from './create-lab';
import { selectLinks, selectNamespaces, selectNftTables } from './lab-cleanup';
import { LabError } from './lab-error';
import { defaultBurstBytes, interfaceNames, MAX_INTERFACE_NAME, namespaceNames, planLab, type LabSpec } from './lab-plan';

const spec = (over: Partial<LabSpec> = {}): LabSpec => ({
  name: 'lab',
  core: { subnet: '10.209.0.0/24' },
  branches: [
    { name: 'east', subnet: '10.210.1.0/24', devices: 3, wan: { rateMbit: 20 }, lanLossPercent: 3 },
    { name: 'west', subnet: '10.210.2.0/24', devices: 2, wan: { rateMbit: 0.5, burstKb: 8 } },
  ],
  ...over,
});

const rejects = (bad: LabSpec, code: string, message: RegExp): void => {
  assert.throws(
    () => planLab(bad),
    (error: unknown) => error instanceof LabError && error.code === code && message.test(error.message),
  );
};

test('plan: addresses follow the plan (gateway .1, routers and devices from .11), names carry the prefix', () => {
  const plan = planLab(spec());
  assert.deepEqual(plan.core, { ns: 'lab-core', bridge: 'lab-cbr', address: '10.209.0.1', subnet: '10.209.0.0/24', prefixLength: 24 });
  const [east, west] = plan.branches;
  assert.equal(east!.routerNs, 'lab-east-r');
  assert.equal(east!.routerLanAddress, '10.210.1.1');
  assert.equal(east!.routerWanAddress, '10.209.0.11');
  assert.equal(west!.routerWanAddress, '10.209.0.12');
  // The host, when attached, takes the first of the free core hosts, below every router.
  assert.deepEqual(plan.host, { iface: 'lab-host', bridgePort: 'lab-hostp', address: '10.209.0.2' });
  assert.deepEqual(
    east!.devices.map((d) => [d.ns, d.address, d.iface, d.bridgePort]),
    [
      ['lab-east-d1', '10.210.1.11', 'lab-1d1', 'lab-1p1'],
      ['lab-east-d2', '10.210.1.12', 'lab-1d2', 'lab-1p2'],
      ['lab-east-d3', '10.210.1.13', 'lab-1d3', 'lab-1p3'],
    ],
  );
  assert.equal(east!.lossPercent, 3);
  assert.equal(east!.lossProto, 'udp');
  assert.equal(west!.lossPercent, 0);
  assert.equal(west!.burstBytes, 8 * 1024);
  assert.equal(east!.burstBytes, defaultBurstBytes(20));
  for (const name of [...namespaceNames(plan), ...interfaceNames(plan), plan.lossTable]) assert.ok(name.startsWith('lab-'), name);
  assert.equal(namespaceNames(plan).length, 1 + 2 + 5);
});

test('plan: the longest names still fit Linux interface names', () => {
  const plan = planLab({
    name: 'abcdefgh',
    core: { subnet: '10.209.0.0/16' },
    branches: Array.from({ length: 99 }, (_, i) => ({ name: `b${i}`, subnet: `10.${100 + Math.floor(i / 50)}.${(i % 50) * 4}.0/22`, devices: 999, wan: { rateMbit: 1 } })),
  });
  const longest = interfaceNames(plan).reduce((max, n) => Math.max(max, n.length), 0);
  assert.equal(longest, MAX_INTERFACE_NAME);
});

test('plan: default burst is 32 KiB, or 10 ms at the rate when that is more', () => {
  assert.equal(defaultBurstBytes(8), 32 * 1024);
  assert.equal(defaultBurstBytes(1000), 1_250_000);
});

test('plan: malformed specs are refused with a message that names the field', () => {
  rejects(spec({ name: 'Lab' }), 'LAB.INVALID_SPEC', /lab name "Lab"/);
  rejects(spec({ name: 'toolongname' }), 'LAB.INVALID_SPEC', /lab name/);
  rejects(spec({ core: { subnet: '10.209.0.1/24' } }), 'LAB.INVALID_SPEC', /host bits set; write 10\.209\.0\.0\/24/);
  rejects(spec({ core: { subnet: '10.300.0.0/24' } }), 'LAB.INVALID_SPEC', /core\.subnet/);
  rejects(spec({ branches: [] }), 'LAB.INVALID_SPEC', /at least one branch/);
  const base = spec().branches[0]!;
  rejects(spec({ branches: [base, { ...base, subnet: '10.210.2.0/24' }] }), 'LAB.INVALID_SPEC', /"east" is used twice/);
  rejects(spec({ branches: [base, { ...base, name: 'west', subnet: '10.210.0.0/16' }] }), 'LAB.INVALID_SPEC', /overlaps branches\[0\]\.subnet/);
  rejects(spec({ branches: [{ ...base, subnet: '10.209.0.128/25' }] }), 'LAB.INVALID_SPEC', /overlaps core\.subnet/);
  rejects(spec({ branches: [{ ...base, subnet: '10.210.1.0/29' }] }), 'LAB.INVALID_SPEC', /too small for 3 devices/);
  rejects(spec({ branches: [{ ...base, devices: 0 }] }), 'LAB.INVALID_SPEC', /devices must be an integer/);
  rejects(spec({ branches: [{ ...base, wan: { rateMbit: 0 } }] }), 'LAB.INVALID_SPEC', /rateMbit must be a number above 0/);
  rejects(spec({ branches: [{ ...base, wan: { rateMbit: 1e12 } }] }), 'LAB.INVALID_SPEC', /at most 10000/);
  rejects(spec({ branches: [{ ...base, wan: { rateMbit: 20, burstKb: 1 } }] }), 'LAB.INVALID_SPEC', /burstKb must be from 2/);
  rejects(spec({ branches: [{ ...base, lanLossPercent: 101 }] }), 'LAB.INVALID_SPEC', /lanLossPercent must be from 0 to 100/);
  rejects(spec({ branches: [{ ...base, lanLossPercent: 2.5 }] }), 'LAB.INVALID_SPEC', /whole number/);
  rejects(spec({ branches: [{ ...base, lossProto: 'tcp' as 'udp' }] }), 'LAB.INVALID_SPEC', /lossProto/);
  rejects(spec({ branches: [{ ...base, wan: { rateMbit: 20, delayMs: 40 } }] }), 'LAB.UNSUPPORTED', /delay is not built yet/);
  for (const mtu of [575, 9001, 1280.5]) rejects(spec({ branches: [{ ...base, mtu }] }), 'LAB.INVALID_SPEC', /branches\[0\]\.mtu must be a whole number from 576 to 9000/);
});

test('plan: a branch LAN MTU is planned as given, the kernel default (null) when absent', () => {
  const base = spec().branches[0]!;
  const plan = planLab(spec({ branches: [{ ...base, mtu: 1280 }, { ...spec().branches[1]! }] }));
  assert.deepEqual(
    plan.branches.map((b) => b.mtu),
    [1280, null],
  );
});

test('loss ruleset: UDP only by default, every IPv4 packet with lossProto all', () => {
  const plan = planLab(spec());
  const east = plan.branches[0]!;
  const udp = lossRuleset(plan, east, east.devices[1]!);
  assert.match(udp, /^table inet lab-loss \{/);
  assert.match(udp, /type filter hook ingress device "lab-1d2" priority 0; policy accept;/);
  assert.match(udp, /meta l4proto udp numgen random mod 100 < 3 counter drop/);
  const all = lossRuleset(plan, { ...east, lossProto: 'all', lossPercent: 30 }, east.devices[0]!);
  assert.match(all, /meta nfproto ipv4 numgen random mod 100 < 30 counter drop/);
  // nftables draws 0..99 and refuses `< 100`: total loss is a plain drop.
  const blocked = lossRuleset(plan, { ...east, lossPercent: 100 }, east.devices[0]!);
  assert.match(blocked, /meta l4proto udp counter drop/);
  assert.doesNotMatch(blocked, /numgen/);
});

test('host routes: a machine route into a branch subnet is a conflict; the default route and the lab\'s own are not', () => {
  const plan = planLab(spec());
  const ok = [{ dst: 'default', dev: 'eth0' }, { dst: '192.0.2.0/24', dev: 'eth0' }, { dst: '10.210.1.0/24', dev: 'lab-host' }, { dst: '127.0.0.1', dev: 'lo' }];
  assert.equal(routeConflict(ok, plan), undefined);
  assert.match(routeConflict([...ok, { dst: '10.210.0.0/16', dev: 'tun0' }], plan) ?? '', /routes 10\.210\.0\.0\/16 on tun0, which overlaps branch east/);
  assert.match(routeConflict([{ dst: '10.210.2.7' }], plan) ?? '', /overlaps branch west/);
});

test('cleanup selects only names with the lab prefix (another lab whose name merely starts alike is spared)', () => {
  assert.deepEqual(selectNamespaces('[{"name":"lab-core"},{"name":"lab2-core","id":3},{"name":"other"}]', 'lab-'), ['lab-core']);
  assert.deepEqual(selectNamespaces('', 'lab-'), []);
  assert.deepEqual(selectLinks('[{"ifname":"lo"},{"ifname":"lab-w1c"},{"ifname":"lab2-w1c"}]', 'lab-'), ['lab-w1c']);
  const tables = '{"nftables":[{"metainfo":{"version":"1.0.6"}},{"table":{"family":"inet","name":"lab-loss","handle":1}},{"table":{"family":"ip","name":"filter","handle":2}}]}';
  assert.deepEqual(selectNftTables(tables, 'lab-'), [{ family: 'inet', name: 'lab-loss' }]);
});
