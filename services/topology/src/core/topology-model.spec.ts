import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { officePolicy, TopologyModel } from './topology-model';
import { validateTopology } from './topology-validation';

function model(defaultOffice: string | null = null): TopologyModel {
  const result = validateTopology({
    schemaVersion: 1,
    origin: { addresses: ['10.0.0.10'] },
    defaultOffice,
    offices: [
      { id: 'hq', name: 'Headquarters', subnets: ['10.0.0.0/16', '2001:db8::/48'] },
      { id: 'paris', name: 'Paris', type: 'wifi', parent: 'hq', subnets: ['10.1.0.0/24', '10.1.1.0/24'], wan: { bandwidthKbps: 20000 } },
      { id: 'lyon', name: 'Lyon', type: 'vpn', parent: 'paris', subnets: ['10.2.0.0/24', '2001:db8:2::/64'], wan: { bandwidthKbps: 5000 } },
      { id: 'nice', name: 'Nice', parent: 'hq', subnets: ['172.16.0.0/12'], wan: { bandwidthKbps: 100000 } },
    ],
  });
  assert.ok(result.ok, JSON.stringify(result.problems));
  return new TopologyModel(result.document);
}

describe('topology model', () => {
  const m = model();

  const placements: Array<[string, string[], { officeId: string; placed: boolean; address: string | null }]> = [
    ['an IPv4 address in a branch', ['10.1.1.77'], { officeId: 'paris', placed: true, address: '10.1.1.77' }],
    ['the first and last address of a subnet', ['10.2.0.0', '10.2.0.255'], { officeId: 'lyon', placed: true, address: '10.2.0.0' }],
    ['IPv4 before IPv6 whatever the order', ['2001:db8:2::5', '10.1.0.9'], { officeId: 'paris', placed: true, address: '10.1.0.9' }],
    ['IPv6 when no IPv4 address is in an office', ['192.0.2.1', '2001:db8:2:0::5'], { officeId: 'lyon', placed: true, address: '2001:db8:2::5' }],
    ['an IPv4-mapped IPv6 address as IPv4', ['::ffff:172.20.1.1'], { officeId: 'nice', placed: true, address: '172.20.1.1' }],
    ['loopback and link-local never place', ['127.0.0.1', 'fe80::1', '169.254.3.4'], { officeId: 'hq', placed: false, address: null }],
    ['an address in no office: the default office, unplaced', ['192.0.2.1'], { officeId: 'hq', placed: false, address: null }],
    ['just outside a subnet', ['10.1.2.0'], { officeId: 'hq', placed: false, address: null }],
    ['no address at all', [], { officeId: 'hq', placed: false, address: null }],
  ];
  for (const [name, addresses, expected] of placements) {
    it(`places ${name}`, () => {
      const { officeId, placed, address } = m.place(addresses);
      assert.deepEqual({ officeId, placed, address }, expected);
    });
  }

  it('puts unplaced devices in the configured default office', () => {
    assert.deepEqual(model('nice').place(['192.0.2.1']), { officeId: 'nice', placed: false, address: null, addresses: ['192.0.2.1'] });
  });

  it('answers parents, WAN path and bottleneck up to the central office', () => {
    assert.deepEqual(m.parentsOf('lyon').map((o) => o.id), ['paris', 'hq']);
    assert.deepEqual(m.parentsOf('hq'), []);
    assert.deepEqual(m.wanPath('lyon'), [
      { from: 'lyon', to: 'paris', bandwidthKbps: 5000 },
      { from: 'paris', to: 'hq', bandwidthKbps: 20000 },
    ]);
    assert.equal(m.bottleneckKbps('lyon'), 5000);
    assert.equal(m.bottleneckKbps('nice'), 100000);
    assert.equal(m.bottleneckKbps('hq'), null);
  });

  it('gives each office type its policy', () => {
    assert.deepEqual(officePolicy('default'), { shareWithPeers: true, multicastDiscovery: true });
    assert.deepEqual(officePolicy('vpn'), { shareWithPeers: false, multicastDiscovery: false });
    assert.deepEqual(officePolicy('wifi'), { shareWithPeers: true, multicastDiscovery: false });
  });
});
