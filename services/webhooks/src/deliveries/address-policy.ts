import ipaddr from 'ipaddr.js';

/**
 * Which addresses a webhook may be delivered to. A webhook makes the control plane send requests
 * where an API caller says: without a policy, a caller could point it at the metadata service of
 * the cloud it runs in, at the fleet's own NATS or Postgres, or at anything on the internal network
 * (server-side request forgery). Refused by default: loopback, link-local (the cloud metadata
 * addresses 169.254.169.254 and fd00:ec2::254 among them), private and unique-local ranges, carrier
 * NAT, unspecified, multicast, broadcast and reserved. An administrator allows a range explicitly
 * (WEBHOOK_ALLOWED_NETWORKS, CIDRs), as the tests do for loopback.
 */

/** ipaddr.js ranges that are the public internet; everything else is refused unless allowed. */
const PUBLIC_RANGES = new Set(['unicast']);

/** Cloud metadata services outside the ranges above (AWS's IPv6 one is unique-local, so refused anyway). */
const METADATA_ADDRESSES = ['169.254.169.254', 'fd00:ec2::254'];

export type AllowedNetworks = ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>;

/** Parses comma-separated CIDRs (`127.0.0.0/8,10.1.0.0/16`); throws naming the bad one. */
export function parseAllowedNetworks(text: string): AllowedNetworks {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((cidr) => {
      try {
        return ipaddr.parseCIDR(cidr);
      } catch {
        throw new RangeError(`"${cidr}" is not a CIDR (like 127.0.0.0/8 or fd00::/8)`);
      }
    });
}

/** Why `address` may not receive webhooks, or null when it may. */
export function addressRefusal(address: string, allowed: AllowedNetworks): string | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return `${address} is not an IP address`;
  }
  // An IPv4 address written as IPv6 (::ffff:127.0.0.1) is judged as the IPv4 address it is.
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  for (const [network, bits] of allowed) {
    if (network.kind() === parsed.kind() && parsed.match(network, bits)) return null;
  }
  if (METADATA_ADDRESSES.includes(parsed.toString())) return `${address} is a cloud metadata address`;
  const range = parsed.range();
  if (PUBLIC_RANGES.has(range)) return null;
  return `${address} is a ${describe(range)} address; an administrator can allow its network with WEBHOOK_ALLOWED_NETWORKS`;
}

function describe(range: string): string {
  switch (range) {
    case 'loopback':
      return 'loopback';
    case 'linkLocal':
      return 'link-local';
    case 'private':
    case 'uniqueLocal':
      return 'private';
    case 'carrierGradeNat':
      return 'carrier-grade NAT';
    case 'unspecified':
      return 'unspecified';
    case 'multicast':
      return 'multicast';
    case 'broadcast':
      return 'broadcast';
    default:
      return `reserved (${range})`;
  }
}
