import { IPv4, IPv6, parse } from 'ipaddr.js';

/** A network as a range of addresses, for containment checks. */
interface Range {
  family: 'ipv4' | 'ipv6';
  first: bigint;
  last: bigint;
  prefixLength: number;
}

const BITS = { ipv4: 32, ipv6: 128 } as const;

/** A network in CIDR form as a range; null when it is not one (host bits are ignored: the network is meant). */
export function cidrRange(text: string): Range | null {
  const slash = text.indexOf('/');
  if (slash <= 0) return null;
  const address = text.slice(0, slash);
  const prefix = Number(text.slice(slash + 1));
  const family = IPv4.isValidFourPartDecimal(address) ? 'ipv4' : IPv6.isValid(address) && !address.includes('%') ? 'ipv6' : null;
  if (family === null || !Number.isInteger(prefix) || prefix < 0 || prefix > BITS[family]) return null;
  let value = 0n;
  for (const byte of parse(address).toByteArray()) value = (value << 8n) | BigInt(byte);
  const hostBits = BigInt(BITS[family] - prefix);
  const first = (value >> hostBits) << hostBits;
  return { family, first, last: first + (1n << hostBits) - 1n, prefixLength: prefix };
}

export interface OfficeSubnets {
  id: string;
  subnets: readonly string[];
}

/**
 * Finds, for each inventory subnet, the office whose network holds it: the most specific office
 * network that contains the whole subnet (a /24 the inventory derived inside an office's /16).
 * A subnet no office holds goes to `defaultOffice` (as the topology service places a device in no
 * office's subnets), or to null when there is none. Linear in offices x subnets: a plan asks once.
 */
export function placeSubnets(subnets: readonly string[], offices: readonly OfficeSubnets[], defaultOffice: string | null): Map<string, { officeId: string | null; placed: boolean }> {
  const networks = offices.flatMap((o) => o.subnets.map((s) => ({ officeId: o.id, range: cidrRange(s) }))).filter((n) => n.range !== null) as Array<{ officeId: string; range: Range }>;
  const placed = new Map<string, { officeId: string | null; placed: boolean }>();
  for (const subnet of subnets) {
    const range = cidrRange(subnet);
    let best: { officeId: string; range: Range } | undefined;
    if (range) {
      for (const n of networks) {
        if (n.range.family !== range.family || n.range.first > range.first || n.range.last < range.last) continue;
        if (!best || n.range.prefixLength > best.range.prefixLength) best = n;
      }
    }
    placed.set(subnet, best ? { officeId: best.officeId, placed: true } : { officeId: defaultOffice, placed: false });
  }
  return placed;
}
