import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compareCidr, deriveDeviceSubnets, deriveSubnet, familyOf, normaliseCidr } from './subnet';

describe('deriveSubnet', () => {
  const cases: Array<[string, number, ReturnType<typeof deriveSubnet>]> = [
    ['10.1.2.37', 24, { ok: true, cidr: '10.1.2.0/24', family: 'ipv4' }],
    ['172.16.200.9', 16, { ok: true, cidr: '172.16.0.0/16', family: 'ipv4' }],
    ['192.168.5.77', 32, { ok: true, cidr: '192.168.5.77/32', family: 'ipv4' }],
    ['10.200.3.4', 20, { ok: true, cidr: '10.200.0.0/20', family: 'ipv4' }],
    ['10.9.8.7', 0, { ok: true, cidr: '0.0.0.0/0', family: 'ipv4' }],
    ['2001:db8:0:1:2:3:4:5', 64, { ok: true, cidr: '2001:db8:0:1::/64', family: 'ipv6' }],
    ['2001:DB8:ABCD:12::1', 48, { ok: true, cidr: '2001:db8:abcd::/48', family: 'ipv6' }],
    ['fd00:1:2:3::9', 64, { ok: true, cidr: 'fd00:1:2:3::/64', family: 'ipv6' }],
    ['2001:db8::1', 128, { ok: true, cidr: '2001:db8::1/128', family: 'ipv6' }],
    ['::ffff:10.1.2.3', 120, { ok: true, cidr: '10.1.2.0/24', family: 'ipv4' }],
    ['fe80::1c2b:3cff:fe4d:5e6f', 64, { ok: false, reason: 'link-local' }],
    ['febf::1', 64, { ok: false, reason: 'link-local' }],
    ['169.254.10.20', 16, { ok: false, reason: 'link-local' }],
    ['127.0.0.1', 8, { ok: false, reason: 'loopback' }],
    ['::1', 128, { ok: false, reason: 'loopback' }],
    ['0.0.0.0', 0, { ok: false, reason: 'unspecified' }],
    ['224.0.0.251', 24, { ok: false, reason: 'multicast' }],
    ['10.1.2.3', 33, { ok: false, reason: 'invalid-prefix' }],
    ['not-an-ip', 24, { ok: false, reason: 'invalid-address' }],
  ];
  for (const [address, prefix, expected] of cases) {
    it(`${address}/${prefix} -> ${expected.ok ? expected.cidr : `skipped (${expected.reason})`}`, () => {
      assert.deepEqual(deriveSubnet(address, prefix), expected);
    });
  }

  it('keeps fec0::/10 (not link-local) while skipping all of fe80::/10', () => {
    assert.equal(deriveSubnet('fec0::1', 64).ok, true);
  });
});

describe('deriveDeviceSubnets', () => {
  const nic = (...addresses: Array<[string, number]>) => ({ addresses: addresses.map(([address, prefixLength]) => ({ address, prefixLength })) });

  it('picks the first IPv4 subnet as primary even when an IPv6 one comes first, and lists it first', () => {
    const result = deriveDeviceSubnets([nic(['2001:db8:0:7::5', 64]), nic(['fe80::1', 64], ['10.0.7.5', 24], ['10.0.8.5', 24])]);
    assert.equal(result.primary, '10.0.7.0/24');
    assert.deepEqual(result.subnets, ['10.0.7.0/24', '2001:db8:0:7::/64', '10.0.8.0/24']);
  });

  it('skips loopback for the primary and falls back to IPv6 without IPv4', () => {
    const result = deriveDeviceSubnets([nic(['127.0.0.1', 8], ['::1', 128]), nic(['169.254.1.1', 16], ['2001:db8:0:9::5', 64])]);
    assert.equal(result.primary, '2001:db8:0:9::/64');
    assert.deepEqual(result.subnets, ['2001:db8:0:9::/64']);
  });

  it('lists a subnet once when two addresses share it, and has no primary without usable addresses', () => {
    assert.deepEqual(deriveDeviceSubnets([nic(['10.0.0.5', 24], ['10.0.0.6', 24])]).subnets, ['10.0.0.0/24']);
    assert.deepEqual(deriveDeviceSubnets([nic(['fe80::1', 64])]), { subnets: [], primary: null });
    assert.deepEqual(deriveDeviceSubnets([]), { subnets: [], primary: null });
  });
});

describe('normaliseCidr', () => {
  it('masks host bits and lowercases, so a filter matches however it is spelled', () => {
    assert.deepEqual(normaliseCidr('10.1.2.77/24'), { cidr: '10.1.2.0/24', family: 'ipv4' });
    assert.deepEqual(normaliseCidr('2001:DB8:0:1:0:0:0:9/64'), { cidr: '2001:db8:0:1::/64', family: 'ipv6' });
  });

  it('rejects what is not a CIDR', () => {
    for (const text of ['10.1.2.0', '10.1.2.0/33', '10.1/16', 'foo/24', '/24', '10.1.2.0/', '10.1.2.0/2x', '::/129']) {
      assert.equal(normaliseCidr(text), null, text);
    }
  });
});

describe('compareCidr and familyOf', () => {
  it('sorts IPv4 numerically before IPv6, and a shorter prefix first', () => {
    const sorted = ['2001:db8::/64', '10.0.10.0/24', '10.0.2.0/24', '10.0.2.0/23', '9.0.0.0/8'].sort(compareCidr);
    assert.deepEqual(sorted, ['9.0.0.0/8', '10.0.2.0/23', '10.0.2.0/24', '10.0.10.0/24', '2001:db8::/64']);
  });

  it('tells the family from the text', () => {
    assert.equal(familyOf('10.0.0.0/8'), 'ipv4');
    assert.equal(familyOf('2001:db8::/32'), 'ipv6');
  });
});
