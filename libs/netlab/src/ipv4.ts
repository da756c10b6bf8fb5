import { LabError } from './lab-error';

/** An IPv4 network as numbers, so that host offsets and overlaps are plain arithmetic. */
export interface Ipv4Subnet {
  /** Network address as an unsigned 32-bit integer (host bits zero). */
  readonly network: number;
  readonly prefixLength: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** Parses `a.b.c.d/n`; host bits must be zero, so that a typo is not silently widened. */
export function parseSubnet(cidr: string, what: string): Ipv4Subnet {
  const match = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  const address = match ? parseIpv4(match[1]!) : undefined;
  const prefixLength = match ? Number(match[2]) : NaN;
  if (address === undefined || !(prefixLength >= 0 && prefixLength <= 32)) {
    throw new LabError('LAB.INVALID_SPEC', `${what}: "${cidr}" is not an IPv4 subnet like 10.210.1.0/24`);
  }
  if (address % subnetSize(prefixLength) !== 0) {
    throw new LabError('LAB.INVALID_SPEC', `${what}: "${cidr}" has host bits set; write ${formatSubnet({ network: address - (address % subnetSize(prefixLength)), prefixLength })}`);
  }
  return { network: address, prefixLength };
}

export function formatSubnet(subnet: Ipv4Subnet): string {
  return `${formatIpv4(subnet.network)}/${subnet.prefixLength}`;
}

export function subnetSize(prefixLength: number): number {
  return 2 ** (32 - prefixLength);
}

/** Number of usable host offsets: 1 .. size-2 (network and broadcast excluded). */
export function lastHostOffset(subnet: Ipv4Subnet): number {
  return subnetSize(subnet.prefixLength) - 2;
}

export function hostAddress(subnet: Ipv4Subnet, offset: number): string {
  if (!Number.isInteger(offset) || offset < 1 || offset > lastHostOffset(subnet)) {
    throw new LabError('LAB.INVALID_SPEC', `host offset ${offset} does not fit in ${formatSubnet(subnet)}`);
  }
  return formatIpv4(subnet.network + offset);
}

export function subnetsOverlap(a: Ipv4Subnet, b: Ipv4Subnet): boolean {
  const aEnd = a.network + subnetSize(a.prefixLength);
  const bEnd = b.network + subnetSize(b.prefixLength);
  return a.network < bEnd && b.network < aEnd;
}
