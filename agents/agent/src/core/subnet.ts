import ipaddr from 'ipaddr.js';
import type { NetworkInterface } from '@fleetcast/contracts';
import { InvalidSubnetError } from './agent-errors';

/**
 * The network a host address belongs to, in CIDR form: `subnetOf('192.168.1.37', 24)` is
 * '192.168.1.0/24', `subnetOf('2001:db8::5', 64)` is '2001:db8::/64' (RFC 5952 compact form, so the
 * same subnet always has the same spelling). An IPv4-mapped IPv6 address counts as IPv4 (its prefix
 * must then be given in IPv4 terms), and a zone suffix ('%eth0') is ignored.
 */
export function subnetOf(address: string, prefixLength: number): string {
  const bare = address.split('%')[0] ?? '';
  if (!ipaddr.isValid(bare)) throw new InvalidSubnetError(`"${address}" is not an IP address`);
  const parsed = ipaddr.process(bare);
  const bits = parsed.kind() === 'ipv4' ? 32 : 128;
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > bits) {
    throw new InvalidSubnetError(`prefix length ${prefixLength} is not between 0 and ${bits} for ${parsed.kind()} address "${address}"`);
  }
  const bytes = parsed.toByteArray();
  const masked = bytes.map((byte, i) => {
    const keep = Math.min(Math.max(prefixLength - i * 8, 0), 8);
    return byte & ((0xff << (8 - keep)) & 0xff);
  });
  const network = ipaddr.fromByteArray(masked);
  const text = network.kind() === 'ipv6' ? (network as ipaddr.IPv6).toRFC5952String() : network.toString();
  return `${text}/${prefixLength}`;
}

/** Is this an address that says nothing about where the device is (loopback, link-local, unspecified)? */
export function isLocalOnly(address: string): boolean {
  const bare = address.split('%')[0] ?? '';
  if (!ipaddr.isValid(bare)) return true;
  const range = ipaddr.process(bare).range();
  return range === 'loopback' || range === 'linkLocal' || range === 'unspecified';
}

/**
 * The subnet that best says where the device is, for the `x-fleetcast-subnet` header and for choosing
 * LAN peers: an IPv4 subnet of an interface with a default gateway first (the route the WAN download
 * takes), then any IPv4 subnet, then a global or unique-local IPv6 one. Loopback and link-local
 * subnets are never chosen: every LAN has the same fe80::/64, so it would lump all sites together.
 * Null when the device has nothing better.
 */
export function primarySubnet(interfaces: readonly NetworkInterface[]): string | null {
  const candidates: Array<{ rank: number; subnet: string }> = [];
  for (const nic of interfaces) {
    for (const a of nic.addresses) {
      if (isLocalOnly(a.address)) continue;
      const rank = (a.family === 'ipv4' ? 0 : 2) + (nic.gateway !== null ? 0 : 1);
      candidates.push({ rank, subnet: subnetOf(a.address, a.prefixLength) });
    }
  }
  candidates.sort((x, y) => x.rank - y.rank);
  return candidates[0]?.subnet ?? null;
}
