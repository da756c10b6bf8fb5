import ipaddr from 'ipaddr.js';
import { NetworkInterface, Platform } from '@fleetcast/contracts';

/**
 * Pure functions over what the OS says about its network: the adapter reads `os.networkInterfaces()`
 * and `/proc/net/route`, these turn the readings into the inventory contract's shape.
 */

/** One address as `os.networkInterfaces()` returns it (structurally; core takes no Node import). */
export interface RawInterfaceAddress {
  address: string;
  netmask: string;
  /** 'IPv4' | 'IPv6'; Node 18.0 to 18.3 gave 4 | 6. */
  family: string | number;
  mac: string;
  internal: boolean;
  cidr: string | null;
}

export type RawInterfaces = Record<string, RawInterfaceAddress[] | undefined>;

/** The inventory contract's limits: more would make the whole scan invalid at the service. */
export const MAX_INTERFACES = 64;
export const MAX_ADDRESSES_PER_INTERFACE = 64;
export const MAX_INTERFACE_NAME_CHARS = 64;

const NO_MAC = '00:00:00:00:00:00';
const MAC_PATTERN = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;

/** Maps Node's `os.platform()` to the contract's platforms; null for one the agent does not support. */
export function platformFromNode(nodePlatform: string): Platform | null {
  switch (nodePlatform) {
    case 'win32':
      return 'windows';
    case 'darwin':
      return 'macos';
    case 'linux':
      return 'linux';
    default:
      return null;
  }
}

/**
 * Builds the contract's interfaces: internal (loopback) interfaces are left out unless
 * `includeInternal` (a lab on one machine has nothing else), addresses get their prefix length,
 * an all-zero MAC becomes null, the order is by name so that two scans of the same network compare
 * equal, and the contract's count limits are respected.
 */
export function toInventoryInterfaces(raw: RawInterfaces, gateways: ReadonlyMap<string, string>, includeInternal: boolean): NetworkInterface[] {
  const result: NetworkInterface[] = [];
  for (const name of Object.keys(raw).sort()) {
    if (name.length === 0 || name.length > MAX_INTERFACE_NAME_CHARS) continue;
    const entries = (raw[name] ?? []).filter((a) => includeInternal || !a.internal);
    const addresses: NetworkInterface['addresses'] = [];
    for (const entry of entries) {
      const family = familyOf(entry.family);
      const address = entry.address.split('%')[0] ?? '';
      const prefixLength = prefixLengthOf(entry);
      if (family === null || prefixLength === null || !ipaddr.isValid(address)) continue;
      addresses.push({ family, address, prefixLength });
    }
    if (addresses.length === 0) continue;
    addresses.sort((a, b) => (a.family === b.family ? a.address.localeCompare(b.address) : a.family === 'ipv4' ? -1 : 1));
    const mac = entries.map((e) => e.mac.toLowerCase()).find((m) => MAC_PATTERN.test(m) && m !== NO_MAC) ?? null;
    result.push({ name, mac, gateway: gateways.get(name) ?? null, addresses: addresses.slice(0, MAX_ADDRESSES_PER_INTERFACE) });
  }
  return result.slice(0, MAX_INTERFACES);
}

/** A string that changes exactly when the interface set as the inventory sees it changes. */
export function interfacesSignature(interfaces: readonly NetworkInterface[]): string {
  return JSON.stringify(interfaces.map((n) => [n.name, n.mac, n.gateway, n.addresses.map((a) => `${a.address}/${a.prefixLength}`)]));
}

function familyOf(family: string | number): 'ipv4' | 'ipv6' | null {
  if (family === 'IPv4' || family === 4) return 'ipv4';
  if (family === 'IPv6' || family === 6) return 'ipv6';
  return null;
}

function prefixLengthOf(entry: RawInterfaceAddress): number | null {
  const fromCidr = entry.cidr ? Number(entry.cidr.slice(entry.cidr.lastIndexOf('/') + 1)) : Number.NaN;
  if (Number.isInteger(fromCidr)) return fromCidr;
  // Node leaves `cidr` null when the netmask is not contiguous; such a mask has no prefix length.
  if (!ipaddr.isValid(entry.netmask)) return null;
  return ipaddr.parse(entry.netmask).prefixLengthFromSubnetMask();
}

/** Linux `RTF_GATEWAY` (include/uapi/linux/route.h): the route goes through a next hop. */
const RTF_GATEWAY = 0x2;
/** Linux `RTF_REJECT`: an unreachable route, never a real gateway. */
const RTF_REJECT = 0x200;

/**
 * Default IPv4 gateway per interface from Linux `/proc/net/route`: rows with destination and mask
 * 0 and the gateway flag; the lowest metric wins when an interface has several. Addresses are in
 * the kernel's byte order (little-endian on every platform the agent ships for).
 */
export function parseIpv4DefaultRoutes(procNetRoute: string): Map<string, string> {
  const best = new Map<string, { gateway: string; metric: number }>();
  for (const line of procNetRoute.split('\n').slice(1)) {
    const [iface, destination, gatewayHex, flagsHex, , , metricText, mask] = line.trim().split(/\s+/);
    if (!iface || destination !== '00000000' || mask !== '00000000' || !gatewayHex || !/^[0-9A-Fa-f]{8}$/.test(gatewayHex)) continue;
    const flags = parseInt(flagsHex ?? '0', 16);
    if ((flags & RTF_GATEWAY) === 0 || (flags & RTF_REJECT) !== 0) continue;
    const n = parseInt(gatewayHex, 16);
    const gateway = [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.');
    const metric = Number(metricText ?? 0);
    const previous = best.get(iface);
    if (!previous || metric < previous.metric) best.set(iface, { gateway, metric });
  }
  return new Map([...best].map(([iface, { gateway }]) => [iface, gateway]));
}

/**
 * Default IPv6 gateway per interface from Linux `/proc/net/ipv6_route` (columns: destination,
 * prefix, source, source prefix, next hop, metric, refcount, use, flags, interface; hex throughout).
 */
export function parseIpv6DefaultRoutes(procNetIpv6Route: string): Map<string, string> {
  const best = new Map<string, { gateway: string; metric: number }>();
  for (const line of procNetIpv6Route.split('\n')) {
    const [destination, prefix, , , nextHop, metricHex, , , flagsHex, iface] = line.trim().split(/\s+/);
    if (!iface || !destination || !/^0{32}$/.test(destination) || prefix !== '00' || !nextHop || !/^[0-9a-fA-F]{32}$/.test(nextHop)) continue;
    const flags = parseInt(flagsHex ?? '0', 16);
    if ((flags & RTF_GATEWAY) === 0 || (flags & RTF_REJECT) !== 0 || /^0{32}$/.test(nextHop)) continue;
    const parts = Array.from({ length: 8 }, (_, i) => parseInt(nextHop.slice(i * 4, i * 4 + 4), 16));
    const gateway = new ipaddr.IPv6(parts).toRFC5952String();
    const metric = parseInt(metricHex ?? '0', 16);
    const previous = best.get(iface);
    if (!previous || metric < previous.metric) best.set(iface, { gateway, metric });
  }
  return new Map([...best].map(([iface, { gateway }]) => [iface, gateway]));
}

/** The contract has one gateway per interface: IPv4's when there is one (the usual WAN path), else IPv6's. */
export function mergeGateways(ipv4: ReadonlyMap<string, string>, ipv6: ReadonlyMap<string, string>): Map<string, string> {
  const merged = new Map(ipv6);
  for (const [iface, gateway] of ipv4) merged.set(iface, gateway);
  return merged;
}
