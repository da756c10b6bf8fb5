import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPacketTagger } from '../auth/packet-auth';
import { senderIdOf, sessionIdOf } from '../session-ids';
import { DEFAULT_SYMBOL_BYTES, MAX_NACK_ENTRIES } from './constants';
import { createSymbolEncoder, encodePacket } from './packets';
import { IPV4_UDP_OVERHEAD_BYTES, MIN_SESSION_MTU, nackEntriesFitting, SymbolSizeError, symbolSizeForMtu } from './symbol-size';

const header = { sessionId: sessionIdOf('task-mtu'), senderId: senderIdOf('device-mtu') };
const tagger = createPacketTagger(new Uint8Array(32).fill(7));

/** IPv4 datagram of a DATA packet carrying a full symbol, encoded by the real encoder. */
function dataDatagramBytes(symbolSize: number, authenticated: boolean): number {
  const encode = createSymbolEncoder(header, authenticated ? tagger : undefined);
  return encode('data', 0, 0, 0, new Uint8Array(symbolSize)).length + IPV4_UDP_OVERHEAD_BYTES;
}

test('symbolSizeForMtu: Ethernet keeps the default size, with or without a key', () => {
  assert.equal(symbolSizeForMtu(1500, true), DEFAULT_SYMBOL_BYTES);
  assert.equal(symbolSizeForMtu(1500, false), DEFAULT_SYMBOL_BYTES);
  // Jumbo frames too: receivers decode at most MAX_PACKET_BYTES.
  assert.equal(symbolSizeForMtu(9000, true), DEFAULT_SYMBOL_BYTES);
});

test('symbolSizeForMtu: a 1280 link gets 1200 (authenticated) and 1216 bytes', () => {
  assert.equal(symbolSizeForMtu(1280, true), 1200);
  assert.equal(symbolSizeForMtu(1280, false), 1216);
});

test('symbolSizeForMtu: the largest fitting multiple of 8 for every MTU from 576 to 1500', () => {
  for (let mtu = MIN_SESSION_MTU; mtu <= 1500; mtu++) {
    for (const authenticated of [true, false]) {
      const size = symbolSizeForMtu(mtu, authenticated);
      assert.equal(size % 8, 0, `mtu ${mtu}`);
      assert.ok(dataDatagramBytes(size, authenticated) <= mtu, `mtu ${mtu}: ${dataDatagramBytes(size, authenticated)} bytes`);
      if (size < DEFAULT_SYMBOL_BYTES) assert.ok(dataDatagramBytes(size + 8, authenticated) > mtu, `mtu ${mtu}: ${size} is not the largest`);
    }
  }
});

test('nackEntriesFitting: the largest NACK of a session fits its link, from 576 to 1500 (the other packet that can be large)', () => {
  for (let mtu = MIN_SESSION_MTU; mtu <= 1500; mtu++) {
    const n = nackEntriesFitting(symbolSizeForMtu(mtu, true));
    const entries = Array.from({ length: n }, (_, i) => ({ block: i, firstGroup: 0, groupCount: 1, missing: 1 }));
    const nack = encodePacket({ type: 'nack', ...header, entries }, tagger);
    assert.ok(nack.length + IPV4_UDP_OVERHEAD_BYTES <= mtu, `mtu ${mtu}: ${n} entries, ${nack.length} bytes`);
    if (n < MAX_NACK_ENTRIES) {
      const more = encodePacket({ type: 'nack', ...header, entries: [...entries, entries[0]!] }, tagger);
      assert.ok(more.length + IPV4_UDP_OVERHEAD_BYTES > dataDatagramBytes(symbolSizeForMtu(mtu, true), true), `mtu ${mtu}: ${n} is not the most`);
    }
  }
  assert.equal(nackEntriesFitting(1400), MAX_NACK_ENTRIES);
  assert.equal(nackEntriesFitting(symbolSizeForMtu(576, true)), 55);
});

test('symbolSizeForMtu: an MTU below 576 or not an integer is refused with a code', () => {
  for (const bad of [575, 68, 0, -1, 1280.5, Number.NaN]) {
    assert.throws(() => symbolSizeForMtu(bad, true), (error: unknown) => error instanceof SymbolSizeError && error.code === 'LAN_SESSION.MTU_TOO_SMALL', String(bad));
  }
});
