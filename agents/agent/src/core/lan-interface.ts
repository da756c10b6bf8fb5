import ipaddr from 'ipaddr.js';
import type { NetworkInterface } from '@fleetcast/contracts';
import { isLocalOnly } from './subnet';

/**
 * The IPv4 address the subnet multicast session uses when the operator names none: the same
 * interface `primarySubnet` reports, so that the control plane's idea of the device's subnet (whose
 * targets a representative waits for) and the link the session runs on agree. An interface with a
 * default gateway first (the device's main link), then any other IPv4 address that is not loopback
 * or link-local; loopback only when the agent reports it (labs and tests on one machine) and has
 * nothing else. Null when there is no usable IPv4 address: multicast is then not attempted.
 */
export function primaryIpv4Address(interfaces: readonly NetworkInterface[], includeLoopback: boolean): string | null {
  const candidates: Array<{ rank: number; address: string }> = [];
  for (const nic of interfaces) {
    for (const a of nic.addresses) {
      if (a.family !== 'ipv4' || !ipaddr.IPv4.isValidFourPartDecimal(a.address)) continue;
      if (!isLocalOnly(a.address)) candidates.push({ rank: nic.gateway !== null ? 0 : 1, address: a.address });
      else if (includeLoopback && ipaddr.IPv4.parse(a.address).range() === 'loopback') candidates.push({ rank: 2, address: a.address });
    }
  }
  candidates.sort((x, y) => x.rank - y.rank);
  return candidates[0]?.address ?? null;
}

/**
 * The name of the interface that holds `address` (the session socket's interface), for reading its
 * MTU; null when no interface does (the address was configured for an interface that went away). An
 * alias label (`eth0:1`, how Linux names a secondary address) is its device's name: the MTU is the device's.
 */
export function interfaceNameOf(interfaces: readonly NetworkInterface[], address: string): string | null {
  for (const nic of interfaces) {
    if (nic.addresses.some((a) => a.family === 'ipv4' && a.address === address)) return nic.name.split(':')[0] || null;
  }
  return null;
}
