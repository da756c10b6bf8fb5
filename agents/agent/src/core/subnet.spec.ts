import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetworkInterface } from '@fleetcast/contracts';
import { AgentErrorCode, InvalidSubnetError } from './agent-errors';
import { isLocalOnly, primarySubnet, subnetOf } from './subnet';

test('subnetOf: IPv4 and IPv6 networks in canonical form', () => {
  const cases: Array<[address: string, prefix: number, subnet: string]> = [
    ['192.168.1.37', 24, '192.168.1.0/24'],
    ['192.168.1.37', 32, '192.168.1.37/32'],
    ['10.20.30.40', 8, '10.0.0.0/8'],
    ['10.20.30.40', 0, '0.0.0.0/0'],
    ['172.16.5.200', 20, '172.16.0.0/20'],
    ['172.16.31.255', 21, '172.16.24.0/21'],
    ['127.0.0.1', 8, '127.0.0.0/8'],
    ['2001:db8::5', 64, '2001:db8::/64'],
    ['2001:0DB8:0000:0000:abcd:0000:0000:0001', 64, '2001:db8::/64'],
    ['2001:db8:1234:5678:9abc::1', 48, '2001:db8:1234::/48'],
    ['2001:db8:1234:5678:9abc::1', 52, '2001:db8:1234:5000::/52'],
    ['fe80::fc:ff:fe00:1', 64, 'fe80::/64'],
    ['fe80::1%eth0', 64, 'fe80::/64'],
    ['fd00::2', 128, 'fd00::2/128'],
    ['::1', 128, '::1/128'],
    ['::ffff:192.168.1.37', 24, '192.168.1.0/24'],
  ];
  for (const [address, prefix, subnet] of cases) assert.equal(subnetOf(address, prefix), subnet, `${address}/${prefix}`);
});

test('subnetOf: hosts of one subnet agree, hosts of neighbouring subnets do not', () => {
  assert.equal(subnetOf('192.168.1.1', 24), subnetOf('192.168.1.254', 24));
  assert.notEqual(subnetOf('192.168.1.1', 24), subnetOf('192.168.2.1', 24));
  assert.equal(subnetOf('2001:db8:0:1::1', 64), subnetOf('2001:db8:0:1:ffff::9', 64));
  assert.notEqual(subnetOf('2001:db8:0:1::1', 64), subnetOf('2001:db8:0:2::1', 64));
});

test('subnetOf: bad addresses and prefixes throw SUBNET.INVALID', () => {
  const bad: Array<[string, number]> = [
    ['300.1.1.1', 24],
    ['not an address', 24],
    ['', 8],
    ['10.0.0.1', 33],
    ['10.0.0.1', -1],
    ['10.0.0.1', 8.5],
    ['2001:db8::1', 129],
  ];
  for (const [address, prefix] of bad) {
    assert.throws(
      () => subnetOf(address, prefix),
      (e: unknown) => e instanceof InvalidSubnetError && e.code === AgentErrorCode.InvalidSubnet,
      `${address}/${prefix}`,
    );
  }
});

test('isLocalOnly: loopback, link-local and unspecified say nothing about a site', () => {
  for (const a of ['127.0.0.1', '::1', 'fe80::1', '169.254.3.4', '0.0.0.0', '::', 'garbage']) assert.equal(isLocalOnly(a), true, a);
  for (const a of ['192.168.1.1', '10.0.0.1', '2001:db8::1', 'fd00::2']) assert.equal(isLocalOnly(a), false, a);
});

const nic = (name: string, gateway: string | null, ...addresses: Array<[string, number]>): NetworkInterface => ({
  name,
  mac: null,
  gateway,
  addresses: addresses.map(([address, prefixLength]) => ({ family: address.includes(':') ? 'ipv6' : 'ipv4', address, prefixLength })),
});

test('primarySubnet: prefers IPv4 on the gateway interface, never link-local or loopback', () => {
  assert.equal(primarySubnet([nic('wlan0', null, ['10.9.8.7', 16]), nic('eth0', '192.168.1.1', ['fe80::1', 64], ['192.168.1.20', 24])]), '192.168.1.0/24');
  assert.equal(primarySubnet([nic('eth0', null, ['2001:db8::9', 64], ['10.1.2.3', 8])]), '10.0.0.0/8');
  assert.equal(primarySubnet([nic('eth0', 'fd00::1', ['fe80::1', 64], ['fd00::2', 64])]), 'fd00::/64');
  assert.equal(primarySubnet([nic('lo', null, ['127.0.0.1', 8], ['::1', 128]), nic('eth0', null, ['fe80::1', 64])]), null);
  assert.equal(primarySubnet([]), null);
});
