import { fromByteArray, IPv4, IPv6, parse } from 'ipaddr.js';

export type IpFamily = 'ipv4' | 'ipv6';

/** A network as a range of addresses: what overlap checks and placement compare. */
export interface IpRange {
  family: IpFamily;
  /** First and last address of the network, as unsigned integers of 32 or 128 bits. */
  first: bigint;
  last: bigint;
  prefixLength: number;
}

export interface ParsedCidr extends IpRange {
  /** Canonical spelling: IPv4 dotted quad, IPv6 in RFC 5952 form ("2001:db8::/48"). */
  cidr: string;
}

export type CidrParseResult =
  | { ok: true; value: ParsedCidr }
  | { ok: false; reason: 'invalid'; message: string }
  /** The address has host bits set: `network` is the network it lies in, which was probably meant. */
  | { ok: false; reason: 'host-bits-set'; network: string; message: string };

const BITS: Record<IpFamily, number> = { ipv4: 32, ipv6: 128 };

/**
 * Reads a network in CIDR form, strictly: a dotted quad (ipaddr.js also takes "10.1" or
 * "0x0a.0.0.1", which nobody writes in a topology on purpose) or an IPv6 address without a zone, a
 * prefix length in range, and no host bits set.
 */
export function parseCidr(text: string): CidrParseResult {
  const invalid = (message: string): CidrParseResult => ({ ok: false, reason: 'invalid', message });
  const slash = text.indexOf('/');
  if (slash <= 0 || slash !== text.lastIndexOf('/')) return invalid(`"${text}" is not a network in CIDR form (like 10.1.2.0/24 or 2001:db8:1::/48)`);
  const addressText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  let family: IpFamily;
  if (IPv4.isValidFourPartDecimal(addressText)) family = 'ipv4';
  else if (!addressText.includes('%') && IPv6.isValid(addressText)) family = 'ipv6';
  else return invalid(`"${addressText}" in "${text}" is not an IPv4 or IPv6 address`);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > BITS[family]) {
    return invalid(`"/${prefixText}" in "${text}" is not a prefix length of ${family === 'ipv4' ? 'IPv4 (0-32)' : 'IPv6 (0-128)'}`);
  }
  const prefixLength = Number(prefixText);
  const address = toBigInt(parse(addressText).toByteArray());
  const hostBits = BigInt(BITS[family] - prefixLength);
  const first = (address >> hostBits) << hostBits;
  const network = `${formatAddress(first, family)}/${prefixLength}`;
  if (first !== address) {
    return { ok: false, reason: 'host-bits-set', network, message: `"${text}" has host bits set: the network is ${network}` };
  }
  return { ok: true, value: { family, first, last: first + (1n << hostBits) - 1n, prefixLength, cidr: network } };
}

/** A usable unicast address as an integer, or null (unparsable, loopback, link-local, multicast, unspecified). */
export function parseHostAddress(text: string): { family: IpFamily; value: bigint; address: string } | null {
  let ip;
  try {
    ip = parse(text);
  } catch {
    return null;
  }
  // An IPv4-mapped IPv6 address (::ffff:10.1.2.3) is an IPv4 host.
  if (ip.kind() === 'ipv6' && (ip as IPv6).isIPv4MappedAddress()) ip = (ip as IPv6).toIPv4Address();
  if (UNUSABLE_RANGES.has(ip.range())) return null;
  const family = ip.kind();
  return { family, value: toBigInt(ip.toByteArray()), address: family === 'ipv6' ? (ip as IPv6).toRFC5952String() : ip.toString() };
}

/**
 * Ranges that place no device: loopback never leaves the host, link-local (169.254/16, fe80::/10)
 * repeats on every link, and the rest are not interface addresses.
 */
const UNUSABLE_RANGES: ReadonlySet<string> = new Set(['loopback', 'linkLocal', 'unspecified', 'multicast', 'broadcast']);

/** Whether two networks share an address; networks are aligned, so that means one contains the other. */
export function overlaps(a: IpRange, b: IpRange): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

export function contains(range: IpRange, family: IpFamily, address: bigint): boolean {
  return range.family === family && range.first <= address && address <= range.last;
}

/** The network of an interface address and its prefix length, canonical; null for an unusable address. */
export function networkOf(address: string, prefixLength: number): ParsedCidr | null {
  const host = parseHostAddress(address);
  if (!host) return null;
  // An IPv4-mapped address came with an IPv6 prefix length.
  const prefix = host.family === 'ipv4' && address.includes(':') ? prefixLength - 96 : prefixLength;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > BITS[host.family]) return null;
  const hostBits = BigInt(BITS[host.family] - prefix);
  const first = (host.value >> hostBits) << hostBits;
  return { family: host.family, first, last: first + (1n << hostBits) - 1n, prefixLength: prefix, cidr: `${formatAddress(first, host.family)}/${prefix}` };
}

/** Orders networks as an operator reads them: IPv4 before IPv6, then by address, then wider first. */
export function compareRanges(a: IpRange, b: IpRange): number {
  if (a.family !== b.family) return a.family === 'ipv4' ? -1 : 1;
  if (a.first !== b.first) return a.first < b.first ? -1 : 1;
  return a.prefixLength - b.prefixLength;
}

function toBigInt(bytes: number[]): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

function formatAddress(value: bigint, family: IpFamily): string {
  const length = BITS[family] / 8;
  const bytes: number[] = new Array(length);
  let rest = value;
  for (let i = length - 1; i >= 0; i--) {
    bytes[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  const ip = fromByteArray(bytes);
  return family === 'ipv6' ? (ip as IPv6).toRFC5952String() : ip.toString();
}
