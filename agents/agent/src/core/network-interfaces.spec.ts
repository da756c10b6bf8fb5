import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaceSchema } from '@fleetcast/contracts';
import {
  RawInterfaces,
  interfacesSignature,
  mergeGateways,
  parseIpv4DefaultRoutes,
  parseIpv6DefaultRoutes,
  platformFromNode,
  toInventoryInterfaces,
} from './network-interfaces';

test('platformFromNode: the three supported platforms, null for others', () => {
  assert.equal(platformFromNode('win32'), 'windows');
  assert.equal(platformFromNode('darwin'), 'macos');
  assert.equal(platformFromNode('linux'), 'linux');
  assert.equal(platformFromNode('freebsd'), null);
});

// Captured from a Linux host: a default route via 192.0.2.1 on eth0, a second one with a worse
// metric on eth1, a link route (no gateway flag) and a header.
const ROUTE = [
  'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
  'eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0',
  'eth0\t00000000\t090200C0\t0003\t0\t0\t50\t00000000\t0\t0\t0',
  'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
  'eth1\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0',
  'wg0\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0',
  '',
].join('\n');

test('parseIpv4DefaultRoutes: little-endian gateways, lowest metric per interface, link routes ignored', () => {
  assert.deepEqual([...parseIpv4DefaultRoutes(ROUTE)], [
    ['eth0', '192.0.2.9'],
    ['eth1', '192.168.1.1'],
  ]);
  assert.equal(parseIpv4DefaultRoutes('').size, 0);
  assert.equal(parseIpv4DefaultRoutes('garbage\nmore garbage here').size, 0);
});

const ROUTE6 = [
  'fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0',
  '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0',
  '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo',
  '',
].join('\n');

test('parseIpv6DefaultRoutes: next hop of the default route; reject routes ignored', () => {
  assert.deepEqual([...parseIpv6DefaultRoutes(ROUTE6)], [['eth0', 'fd00::1']]);
});

test('mergeGateways: IPv4 wins where both exist', () => {
  const merged = mergeGateways(new Map([['eth0', '192.0.2.1']]), new Map([['eth0', 'fd00::1'], ['eth1', 'fd01::1']]));
  assert.deepEqual(Object.fromEntries(merged), { eth0: '192.0.2.1', eth1: 'fd01::1' });
});

const RAW: RawInterfaces = {
  lo: [
    { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' },
    { address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', family: 'IPv6', mac: '00:00:00:00:00:00', internal: true, cidr: '::1/128' },
  ],
  eth0: [
    { address: 'fe80::fc:ff:fe00:1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:FC:00:00:00:01', internal: false, cidr: 'fe80::fc:ff:fe00:1/64' },
    { address: '192.0.2.2', netmask: '255.255.255.0', family: 'IPv4', mac: '02:fc:00:00:00:01', internal: false, cidr: '192.0.2.2/24' },
    // An old Node reported numeric families and no cidr.
    { address: '198.51.100.7', netmask: '255.255.254.0', family: 4, mac: '02:fc:00:00:00:01', internal: false, cidr: null },
    // A non-contiguous mask has no prefix length: skipped, not guessed.
    { address: '203.0.113.9', netmask: '255.0.255.0', family: 'IPv4', mac: '02:fc:00:00:00:01', internal: false, cidr: null },
  ],
  tun0: [{ address: '10.8.0.2', netmask: '255.255.255.255', family: 'IPv4', mac: '00:00:00:00:00:00', internal: false, cidr: '10.8.0.2/32' }],
  empty: [],
};

test('toInventoryInterfaces: loopback left out by default, prefix lengths, MAC and gateway, sorted', () => {
  const interfaces = toInventoryInterfaces(RAW, new Map([['eth0', '192.0.2.1']]), false);
  assert.deepEqual(interfaces, [
    {
      name: 'eth0',
      mac: '02:fc:00:00:00:01',
      gateway: '192.0.2.1',
      addresses: [
        { family: 'ipv4', address: '192.0.2.2', prefixLength: 24 },
        { family: 'ipv4', address: '198.51.100.7', prefixLength: 23 },
        { family: 'ipv6', address: 'fe80::fc:ff:fe00:1', prefixLength: 64 },
      ],
    },
    { name: 'tun0', mac: null, gateway: null, addresses: [{ family: 'ipv4', address: '10.8.0.2', prefixLength: 32 }] },
  ]);
  for (const nic of interfaces) assert.ok(networkInterfaceSchema.safeParse(nic).success, nic.name);
});

test('toInventoryInterfaces: loopback included when asked (labs on one machine)', () => {
  const lo = toInventoryInterfaces(RAW, new Map(), true).find((n) => n.name === 'lo');
  assert.deepEqual(lo, {
    name: 'lo',
    mac: null,
    gateway: null,
    addresses: [
      { family: 'ipv4', address: '127.0.0.1', prefixLength: 8 },
      { family: 'ipv6', address: '::1', prefixLength: 128 },
    ],
  });
});

test('toInventoryInterfaces: the contract limits hold on a host with hundreds of interfaces', () => {
  const many: RawInterfaces = {};
  for (let i = 0; i < 200; i++) {
    many[`veth${String(i).padStart(3, '0')}`] = Array.from({ length: 70 }, (_, j) => ({
      address: `10.${i}.${j}.1`,
      netmask: '255.255.255.0',
      family: 'IPv4',
      mac: '02:00:00:00:00:01',
      internal: false,
      cidr: `10.${i}.${j}.1/24`,
    }));
  }
  const interfaces = toInventoryInterfaces(many, new Map(), false);
  assert.equal(interfaces.length, 64);
  assert.ok(interfaces.every((n) => n.addresses.length === 64));
});

test('interfacesSignature: equal for the same network in any order, different after a change', () => {
  const a = toInventoryInterfaces(RAW, new Map(), false);
  const reordered: RawInterfaces = Object.fromEntries(Object.entries(RAW).reverse());
  assert.equal(interfacesSignature(a), interfacesSignature(toInventoryInterfaces(reordered, new Map(), false)));
  const changed: RawInterfaces = { ...RAW, eth0: [{ ...RAW.eth0![1]!, address: '192.0.2.3', cidr: '192.0.2.3/24' }] };
  assert.notEqual(interfacesSignature(a), interfacesSignature(toInventoryInterfaces(changed, new Map(), false)));
});
