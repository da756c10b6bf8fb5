import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { generateDraft, InventoryDeviceView } from './draft-generation';

/** A device with one interface. */
const device = (id: string, address: string, prefixLength: number, gateway: string | null, extra: Array<{ address: string; prefixLength: number }> = []): InventoryDeviceView => ({
  id,
  interfaces: [{ gateway, addresses: [{ address, prefixLength }, ...extra] }],
});

describe('draft generation from the inventory', () => {
  it('makes one office per subnet, the origin\'s the central office, the others its branches', () => {
    const draft = generateDraft(
      [device('a', '10.0.0.5', 24, null), device('b', '10.1.0.5', 24, null), device('c', '10.1.0.6', 24, null), device('d', '10.2.0.5', 24, null)],
      { originAddresses: ['10.0.0.10'], branchBandwidthKbps: 10000 },
    );
    assert.deepEqual(draft.problems, []);
    assert.deepEqual(
      draft.document.offices.map((o) => [o.id, o.parent, o.subnets, o.wan?.bandwidthKbps ?? null]),
      [
        ['office-10-0-0-0-24', null, ['10.0.0.0/24'], null],
        ['office-10-1-0-0-24', 'office-10-0-0-0-24', ['10.1.0.0/24'], 10000],
        ['office-10-2-0-0-24', 'office-10-0-0-0-24', ['10.2.0.0/24'], 10000],
      ],
    );
    assert.match(draft.notes.find((n) => n.path === '/offices/1')!.message, /subnet 10\.1\.0\.0\/24 \(2 devices\)/);
    assert.match(draft.notes.find((n) => n.path === '/offices')!.message, /placeholder bandwidth 10000/);
    assert.equal(draft.devicesSeen, 4);
  });

  it('groups subnets behind one gateway, and an interface\'s IPv4 and IPv6 networks, into one office', () => {
    const draft = generateDraft(
      [
        device('a', '10.0.0.5', 24, '10.0.0.1'),
        device('b', '10.1.0.5', 24, '10.1.0.1', [{ address: '2001:db8:1::5', prefixLength: 64 }]),
        // Another VLAN of the same site answers through the same router address.
        device('c', '10.1.1.5', 24, '10.1.0.1'),
        // fe80::1 is every link's gateway: it must not join sites.
        device('d', '2001:db8:2::5', 64, 'fe80::1'),
        device('e', '2001:db8:3::5', 64, 'fe80::1'),
      ],
      { originAddresses: ['10.0.0.10'], branchBandwidthKbps: 2000 },
    );
    assert.deepEqual(draft.problems, []);
    assert.deepEqual(draft.document.offices.map((o) => o.subnets), [['10.0.0.0/24'], ['10.1.0.0/24', '10.1.1.0/24', '2001:db8:1::/64'], ['2001:db8:2::/64'], ['2001:db8:3::/64']]);
    assert.match(draft.notes.find((n) => n.path === '/offices/1')!.message, /behind gateway 10\.1\.0\.1 \(2 devices\)/);
  });

  it('folds a subnet nested in a wider one into it, and skips devices with no usable address', () => {
    const draft = generateDraft(
      [device('a', '10.0.0.5', 24, null), device('b', '10.1.0.5', 16, null), device('c', '10.1.2.5', 24, null), device('d', '127.0.0.1', 8, null)],
      { originAddresses: ['10.0.0.10'], branchBandwidthKbps: 2000 },
    );
    assert.deepEqual(draft.document.offices.map((o) => o.subnets), [['10.0.0.0/24'], ['10.1.0.0/16']]);
    assert.ok(draft.notes.some((n) => /10\.1\.2\.0\/24 lies inside 10\.1\.0\.0\/16/.test(n.message)));
    assert.equal(draft.devicesWithoutAddress, 1);
  });

  it('adds an empty central office when no device shares the origin\'s subnet, and the validation says so', () => {
    const draft = generateDraft([device('a', '10.1.0.5', 24, null)], { originAddresses: ['10.0.0.10'], branchBandwidthKbps: 2000 });
    assert.deepEqual(draft.document.offices.map((o) => [o.id, o.parent]), [['central', null], ['office-10-1-0-0-24', 'central']]);
    assert.deepEqual(draft.problems.map((p) => `${p.code} ${p.path}`), ['origin-outside-central-office /origin/addresses/0']);
    assert.match(draft.notes[0]!.message, /give the central office its subnets/);
  });
});
