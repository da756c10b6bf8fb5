import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cidrRange, placeSubnets } from './subnet-placement';

describe('placeSubnets', () => {
  const offices = [
    { id: 'hq', subnets: ['10.0.0.0/8', '2001:db8::/32'] },
    { id: 'paris', subnets: ['10.1.0.0/16'] },
    { id: 'paris-lab', subnets: ['10.1.5.0/24'] },
  ];
  const cases: Array<{ subnet: string; want: { officeId: string | null; placed: boolean } }> = [
    { subnet: '10.1.2.0/24', want: { officeId: 'paris', placed: true } },
    { subnet: '10.1.5.0/24', want: { officeId: 'paris-lab', placed: true } },
    { subnet: '10.2.0.0/24', want: { officeId: 'hq', placed: true } },
    { subnet: '2001:db8:1::/64', want: { officeId: 'hq', placed: true } },
    // Wider than any office network that would hold it: no office holds all of it.
    { subnet: '10.1.0.0/15', want: { officeId: 'hq', placed: true } },
    { subnet: '192.168.1.0/24', want: { officeId: 'hq-default', placed: false } },
    { subnet: 'not a subnet', want: { officeId: 'hq-default', placed: false } },
  ];
  const placed = placeSubnets(cases.map((c) => c.subnet), offices, 'hq-default');
  for (const c of cases) it(`${c.subnet} -> ${c.want.officeId}`, () => assert.deepEqual(placed.get(c.subnet), c.want));

  it('without a default office an unplaced subnet has none', () => {
    assert.deepEqual(placeSubnets(['192.168.0.0/24'], offices, null).get('192.168.0.0/24'), { officeId: null, placed: false });
  });
});

describe('cidrRange', () => {
  it('reads IPv4 and IPv6 networks and refuses the rest', () => {
    assert.equal(cidrRange('10.1.2.0/24')?.last, (10n << 24n) + (1n << 16n) + (2n << 8n) + 255n);
    assert.equal(cidrRange('2001:db8::/127')?.last! - cidrRange('2001:db8::/127')?.first!, 1n);
    assert.equal(cidrRange('10.1.2.0/33'), null);
    assert.equal(cidrRange('10.1.2.0'), null);
    assert.equal(cidrRange('fe80::1%eth0/64'), null);
  });
});
