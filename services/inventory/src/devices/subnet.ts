import { fromByteArray, IPv4, IPv6, parse } from 'ipaddr.js';

export type IpFamily = 'ipv4' | 'ipv6';

/** The network an interface address belongs to, in canonical CIDR form ("10.1.2.0/24", "2001:db8:0:1::/64"). */
export interface DerivedSubnet {
  ok: true;
  cidr: string;
  family: IpFamily;
}

/** Why an address yields no subnet: it never reaches another host on a shared LAN, or it makes no sense. */
export interface SkippedAddress {
  ok: false;
  reason: 'link-local' | 'loopback' | 'unspecified' | 'multicast' | 'invalid-address' | 'invalid-prefix';
}

/**
 * Ranges that name no LAN segment the multicast layer could use: link-local (169.254/16, fe80::/10)
 * repeats on every link, loopback never leaves the host, and the rest are not interface addresses.
 */
const SKIPPED_RANGES: Record<string, SkippedAddress['reason']> = {
  linkLocal: 'link-local',
  loopback: 'loopback',
  unspecified: 'unspecified',
  multicast: 'multicast',
  broadcast: 'multicast',
};

/** Derives the network CIDR from an interface address and its prefix length, for IPv4 and IPv6. */
export function deriveSubnet(address: string, prefixLength: number): DerivedSubnet | SkippedAddress {
  let ip: IPv4 | IPv6;
  try {
    ip = parse(address);
  } catch {
    return { ok: false, reason: 'invalid-address' };
  }
  let prefix = prefixLength;
  // An IPv4-mapped IPv6 address (::ffff:10.1.2.3/120) is an IPv4 host: group it with its IPv4 peers.
  if (ip.kind() === 'ipv6' && (ip as IPv6).isIPv4MappedAddress()) {
    ip = (ip as IPv6).toIPv4Address();
    prefix = prefixLength - 96;
  }
  const bits = ip.kind() === 'ipv4' ? 32 : 128;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) return { ok: false, reason: 'invalid-prefix' };
  const skipped = SKIPPED_RANGES[ip.range()];
  if (skipped) return { ok: false, reason: skipped };
  return { ok: true, cidr: networkCidr(ip, prefix), family: ip.kind() };
}

/** Masks the host bits off; IPv6 in RFC 5952 form, so one network always has one spelling. */
function networkCidr(ip: IPv4 | IPv6, prefix: number): string {
  const mask = (ip.kind() === 'ipv4' ? IPv4 : IPv6).subnetMaskFromPrefixLength(prefix).toByteArray();
  const network = fromByteArray(ip.toByteArray().map((byte, i) => byte & mask[i]!));
  const text = network.kind() === 'ipv6' ? (network as IPv6).toRFC5952String() : network.toString();
  return `${text}/${prefix}`;
}

/** The minimal interface shape the derivation reads (the scan's interfaces satisfy it). */
export interface AddressedInterface {
  addresses: ReadonlyArray<{ address: string; prefixLength: number }>;
}

export interface DeviceSubnets {
  /** Every distinct subnet of the device: the primary first, then the others in the order its interfaces list them. */
  subnets: string[];
  /**
   * The subnet the device is grouped under: its first IPv4 subnet, else its first IPv6 subnet, else
   * null. IPv4 first because LAN multicast and peer discovery run on the IPv4 segment where both exist.
   */
  primary: string | null;
}

export function deriveDeviceSubnets(interfaces: readonly AddressedInterface[]): DeviceSubnets {
  const seen = new Set<string>();
  const subnets: string[] = [];
  let firstV4: string | null = null;
  let firstV6: string | null = null;
  for (const nic of interfaces) {
    for (const { address, prefixLength } of nic.addresses) {
      const derived = deriveSubnet(address, prefixLength);
      if (!derived.ok || seen.has(derived.cidr)) continue;
      seen.add(derived.cidr);
      subnets.push(derived.cidr);
      if (derived.family === 'ipv4') firstV4 ??= derived.cidr;
      else firstV6 ??= derived.cidr;
    }
  }
  const primary = firstV4 ?? firstV6;
  // The device contract has no field of its own for the primary subnet, so it leads the list.
  return { subnets: primary === null ? subnets : [primary, ...subnets.filter((s) => s !== primary)], primary };
}

/**
 * Normalises a subnet given in a query ("10.1.2.7/24" -> "10.1.2.0/24", "2001:DB8::/64" ->
 * "2001:db8::/64") to the form stored, so a filter matches however it was spelled. Null when the
 * text is not a CIDR.
 */
export function normaliseCidr(text: string): { cidr: string; family: IpFamily } | null {
  const slash = text.lastIndexOf('/');
  if (slash <= 0) return null;
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return null;
  const addressText = text.slice(0, slash);
  // ipaddr.js also reads "10.1" or "0x0a.0.0.1"; a subnet filter accepts only the usual dotted quad.
  if (!IPv4.isValidFourPartDecimal(addressText) && !IPv6.isValid(addressText)) return null;
  const ip = parse(addressText);
  const prefix = Number(prefixText);
  if (prefix > (ip.kind() === 'ipv4' ? 32 : 128)) return null;
  return { cidr: networkCidr(ip, prefix), family: ip.kind() };
}

/** The family of a stored CIDR: only IPv6 text contains a colon. */
export function familyOf(cidr: string): IpFamily {
  return cidr.includes(':') ? 'ipv6' : 'ipv4';
}

/** Orders CIDRs as an operator reads them: IPv4 before IPv6, then by address bytes, then by prefix length. */
export function compareCidr(a: string, b: string): number {
  const pa = splitCidr(a);
  const pb = splitCidr(b);
  if (!pa || !pb) return a < b ? -1 : a > b ? 1 : 0;
  if (pa.bytes.length !== pb.bytes.length) return pa.bytes.length - pb.bytes.length;
  for (let i = 0; i < pa.bytes.length; i++) {
    if (pa.bytes[i] !== pb.bytes[i]) return pa.bytes[i]! - pb.bytes[i]!;
  }
  return pa.prefix - pb.prefix;
}

function splitCidr(cidr: string): { bytes: number[]; prefix: number } | null {
  const slash = cidr.lastIndexOf('/');
  try {
    return { bytes: parse(cidr.slice(0, slash)).toByteArray(), prefix: Number(cidr.slice(slash + 1)) };
  } catch {
    return null;
  }
}
