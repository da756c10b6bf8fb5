import { AUTH_TAG_BYTES, DEFAULT_SYMBOL_BYTES, MAX_NACK_ENTRIES, NACK_ENTRY_BYTES, PACKET_OVERHEAD_BYTES, SYMBOL_ADDRESS_BYTES } from './constants';

/**
 * The symbol size a session announces on a link of a given MTU, so that no DATA or PARITY datagram
 * is ever fragmented: one lost fragment loses the whole datagram, so a fragmented session multiplies
 * its loss rate by the fragment count. Pure: the adapter reads the sending interface's MTU.
 */

/** IPv4 header without options (RFC 791) + UDP header (RFC 768): the session is IPv4 only. */
export const IPV4_UDP_OVERHEAD_BYTES = 20 + 8;

/**
 * The smallest MTU a session adapts to: 576, the datagram every IPv4 host must accept (RFC 791,
 * RFC 1122 3.3.3). Below it the session refuses the link rather than send a symbol smaller than its
 * own overhead.
 */
export const MIN_SESSION_MTU = 576;

/** Symbols are a multiple of 8 bytes, as word-wise erasure coders require (see DEFAULT_SYMBOL_BYTES). */
const SYMBOL_ALIGNMENT = 8;

export class SymbolSizeError extends Error {
  readonly code = 'LAN_SESSION.MTU_TOO_SMALL';

  constructor(mtu: number) {
    super(`an interface MTU of ${mtu} bytes is below the ${MIN_SESSION_MTU} a multicast session needs`);
    this.name = 'SymbolSizeError';
  }
}

/**
 * The largest symbol whose packet fits `mtu` (IPv4 20 + UDP 8 + header 20 + address 7 + tag 16 when
 * `authenticated` + CRC 4 + symbol <= mtu), rounded down to a multiple of 8 and never above
 * DEFAULT_SYMBOL_BYTES: links larger than Ethernet's keep today's size, which every receiver of
 * version 1 and 2 decodes (MAX_PACKET_BYTES). 1500 gives 1400 either way; 1280 gives 1200
 * authenticated (a 1,275-byte IPv4 datagram) and 1216 without a key.
 */
export function symbolSizeForMtu(mtu: number, authenticated: boolean): number {
  if (!Number.isInteger(mtu) || mtu < MIN_SESSION_MTU) throw new SymbolSizeError(mtu);
  const room = mtu - IPV4_UDP_OVERHEAD_BYTES - PACKET_OVERHEAD_BYTES - SYMBOL_ADDRESS_BYTES - (authenticated ? AUTH_TAG_BYTES : 0);
  const aligned = room - (room % SYMBOL_ALIGNMENT);
  return Math.min(DEFAULT_SYMBOL_BYTES, aligned);
}

/**
 * The most entries a NACK of a session with `symbolSize` symbols carries, so that it is never larger
 * than the session's DATA datagram (which fits the link by `symbolSizeForMtu`): both have the same
 * header, tag and CRC, then a NACK has a count byte and 9 bytes an entry where DATA has the 7-byte
 * address and the symbol. 128 (MAX_NACK_ENTRIES) from 1,146-byte symbols up; 55 at a 576 MTU. A
 * receiver with more holes sends the rest in its next NACK.
 */
export function nackEntriesFitting(symbolSize: number): number {
  const fitting = Math.floor((SYMBOL_ADDRESS_BYTES + symbolSize - 1) / NACK_ENTRY_BYTES);
  return Math.max(1, Math.min(MAX_NACK_ENTRIES, fitting));
}
