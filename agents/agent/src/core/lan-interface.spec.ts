import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetworkInterface } from '@fleetcast/contracts';
import { interfaceNameOf, primaryIpv4Address } from './lan-interface';

const nic = (name: string, gateway: string | null, ...addresses: Array<[string, number]>): NetworkInterface => ({
  name,
  mac: null,
  gateway,
  addresses: addresses.map(([address, prefixLength]) => ({ family: address.includes(':') ? 'ipv6' : 'ipv4', address, prefixLength })),
});

test('primaryIpv4Address: the gateway interface first, then any site address, loopback only when reported and alone', () => {
  const lo = nic('lo', null, ['127.0.0.1', 8], ['::1', 128]);
  const cases: Array<[NetworkInterface[], boolean, string | null]> = [
    [[nic('wlan0', null, ['10.9.8.7', 16]), nic('eth0', '192.168.1.1', ['fe80::1', 64], ['192.168.1.20', 24])], false, '192.168.1.20'],
    [[lo, nic('eth0', null, ['2001:db8::9', 64], ['10.1.2.3', 8])], true, '10.1.2.3'],
    [[nic('eth0', 'fd00::1', ['fd00::2', 64])], false, null],
    [[nic('eth0', null, ['169.254.1.2', 16])], true, null],
    [[lo], false, null],
    [[lo], true, '127.0.0.1'],
    [[], true, null],
  ];
  for (const [interfaces, includeLoopback, expected] of cases) {
    assert.equal(primaryIpv4Address(interfaces, includeLoopback), expected, JSON.stringify({ interfaces, includeLoopback }));
  }
});

test('interfaceNameOf: the interface holding the IPv4 address, an alias by its device, null when none holds it', () => {
  const interfaces = [nic('lo', null, ['127.0.0.1', 8]), nic('eth0', '192.168.1.1', ['192.168.1.20', 24], ['fe80::1', 64]), nic('eth0:1', null, ['10.0.0.5', 8])];
  const cases: Array<[string, string | null]> = [
    ['192.168.1.20', 'eth0'],
    ['10.0.0.5', 'eth0'],
    ['127.0.0.1', 'lo'],
    ['192.168.1.21', null],
    ['fe80::1', null],
  ];
  for (const [address, expected] of cases) assert.equal(interfaceNameOf(interfaces, address), expected, address);
});
