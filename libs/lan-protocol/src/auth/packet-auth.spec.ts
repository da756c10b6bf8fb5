import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUTH_TAG_BYTES, DEFAULT_SYMBOL_BYTES, MAX_AUTHENTICATED_SYMBOL_BYTES, MAX_PACKET_BYTES, PACKET_OVERHEAD_BYTES } from '../protocol/constants';
import { crc32c } from '../protocol/crc32c';
import { PacketEncodeError, PacketErrorCode } from '../protocol/packet-errors';
import { DataPacket, NackPacket, dataCodec, decodePacket, encodePacket, peekSessionId } from '../protocol/packets';
import { LanKeyError, createPacketTagger, generateLanKey } from './packet-auth';

const hex = (spaced: string) => spaced.replace(/\s+/g, '');
const toHex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const H = { sessionId: '0123456789abcdef', senderId: 'fedcba9876543210' };
/** A fixed key: bytes 0x00..0x1f. */
const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const TAGGER = createPacketTagger(KEY);

/**
 * Golden bytes of version 2: magic, version 2, type, IDs, body, then the first 16 bytes of
 * HMAC-SHA-256(KEY, everything before), then CRC32C of everything before it. The tags and CRCs
 * were computed with Python's hmac and a bit-by-bit CRC32C, not with the code under test.
 */
const GOLDEN: Array<{ message: DataPacket | NackPacket; bytes: string }> = [
  {
    message: { ...H, type: 'data', block: 1, group: 2, index: 3, payload: new TextEncoder().encode('abc') },
    bytes: '4643 02 05 0123456789abcdef fedcba9876543210 00000001 0002 03 616263  898606c737d55684b44d43005bd2f77d  314ed73f',
  },
  {
    message: { ...H, type: 'nack', entries: [{ block: 5, firstGroup: 3, groupCount: 2, missing: 4 }] },
    bytes: '4643 02 07 0123456789abcdef fedcba9876543210 01 00000005 0003 0002 04  019feb79785a8f2452d792d2b3a943af  fad439b2',
  },
];

test('auth: version 2 golden bytes with a fixed key; decode with the key gives the message back', () => {
  for (const { message, bytes } of GOLDEN) {
    const encoded = encodePacket(message, TAGGER);
    assert.equal(toHex(encoded), hex(bytes), message.type);
    const decoded = decodePacket(encoded, TAGGER);
    assert.ok(decoded.ok, message.type);
    assert.deepEqual({ ...decoded.value, ...('payload' in decoded.value ? { payload: toHex(decoded.value.payload) } : {}) }, { ...message, ...('payload' in message ? { payload: toHex(message.payload) } : {}) });
  }
  const data = GOLDEN[0].message as DataPacket;
  assert.equal(toHex(dataCodec.encode(data, TAGGER)), hex(GOLDEN[0].bytes), 'the per-type codec takes the tagger too');
  assert.equal(peekSessionId(encodePacket(data, TAGGER)), H.sessionId);
  assert.equal(peekSessionId(new Uint8Array(10)), null);
});

test('auth: a wrong key, a flipped bit under a fixed-up CRC, a stripped tag and a version downgrade are BAD_AUTH', () => {
  const message = GOLDEN[0].message;
  const good = encodePacket(message, TAGGER);
  const other = createPacketTagger(Uint8Array.from({ length: 32 }, (_, i) => 31 - i));
  const withCrc = (bytes: Uint8Array) => {
    // A forger can always fix the CRC: it authenticates nothing. The tag is what it cannot make.
    new DataView(bytes.buffer).setUint32(bytes.length - 4, crc32c(bytes, 0, bytes.length - 4));
    return bytes;
  };
  const flipped = Uint8Array.from(good);
  flipped[27] ^= 1;
  const table: Array<{ name: string; bytes: Uint8Array; code: string }> = [
    { name: 'forged with another key', bytes: encodePacket(message, other), code: PacketErrorCode.BadAuth },
    { name: 'payload bit flipped, CRC fixed', bytes: withCrc(flipped), code: PacketErrorCode.BadAuth },
    { name: 'version 1 (no tag) to a keyed session', bytes: encodePacket(message), code: PacketErrorCode.BadAuth },
    { name: 'tag zeroed, CRC fixed', bytes: withCrc(Uint8Array.from(good).fill(0, good.length - 4 - AUTH_TAG_BYTES, good.length - 4)), code: PacketErrorCode.BadAuth },
    { name: 'damaged in transit (CRC wrong)', bytes: Uint8Array.from(good).fill(0, 23, 24), code: PacketErrorCode.BadChecksum },
    { name: 'version 3', bytes: withCrc(Uint8Array.from(good).fill(3, 2, 3)), code: PacketErrorCode.UnsupportedVersion },
  ];
  for (const row of table) {
    const result = decodePacket(row.bytes, TAGGER);
    assert.ok(!result.ok, row.name);
    assert.equal(result.error.code, row.code, row.name);
  }
  const keyless = decodePacket(good);
  assert.ok(!keyless.ok && keyless.error.code === PacketErrorCode.UnsupportedVersion, 'a decoder without a key speaks version 1 only');
});

test('auth: the tag fits the default symbol under the MTU; the largest authenticated symbol is 1,405 bytes', () => {
  const data = (length: number): DataPacket => ({ ...H, type: 'data', block: 0, group: 0, index: 0, payload: new Uint8Array(length) });
  assert.equal(encodePacket(data(DEFAULT_SYMBOL_BYTES), TAGGER).length, PACKET_OVERHEAD_BYTES + 7 + DEFAULT_SYMBOL_BYTES + AUTH_TAG_BYTES);
  assert.equal(encodePacket(data(MAX_AUTHENTICATED_SYMBOL_BYTES), TAGGER).length, MAX_PACKET_BYTES);
  assert.throws(() => encodePacket(data(MAX_AUTHENTICATED_SYMBOL_BYTES + 1), TAGGER), PacketEncodeError);
  assert.throws(() => createPacketTagger(new Uint8Array(15)), LanKeyError);
  assert.equal(generateLanKey().length, 32);
});

test('auth: the tagger is HMAC-SHA-256 exactly, for keys shorter than, equal to and longer than the block, at every packet length', () => {
  for (const keyLength of [16, 32, 64, 65, 100]) {
    const key = Uint8Array.from({ length: keyLength }, (_, i) => (i * 7 + keyLength) & 0xff);
    const tagger = createPacketTagger(key);
    for (const length of [0, 1, 55, 56, 63, 64, 65, 1431, MAX_PACKET_BYTES - 4 - AUTH_TAG_BYTES, MAX_PACKET_BYTES, MAX_PACKET_BYTES + 1]) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 31 + length) & 0xff);
      const expected = createHmac('sha256', Buffer.from(key)).update(bytes).digest();
      assert.equal(toHex(tagger(bytes).subarray(0, AUTH_TAG_BYTES)), toHex(expected.subarray(0, AUTH_TAG_BYTES)), `key ${keyLength} bytes, message ${length} bytes`);
    }
  }
});

test('auth: the tagger keeps its own copy of the key, and two taggers never share state', () => {
  const key = Uint8Array.from(KEY);
  const tagger = createPacketTagger(key);
  const message = encodePacket(GOLDEN[0].message, tagger);
  key.fill(0);
  const other = createPacketTagger(Uint8Array.from({ length: 32 }, (_, i) => 31 - i));
  // Interleaved: a session's sender and receiver, or two sessions, tag on one thread in turn.
  const first = toHex(tagger(message.subarray(0, 20)));
  toHex(other(message));
  assert.equal(toHex(tagger(message.subarray(0, 20))), first);
  assert.ok(decodePacket(message, createPacketTagger(KEY)).ok, 'still tagged under the original key');
  assert.equal(toHex(encodePacket(GOLDEN[0].message, tagger)), hex(GOLDEN[0].bytes));
});

test('auth: a matching tag is what a version 2 packet is checked by; the CRC only tells damage from forgery', () => {
  const good = encodePacket(GOLDEN[0].message, TAGGER);
  // Only the CRC trailer damaged: every byte the tag covers, and the tag, are the sender's.
  const crcOnly = Uint8Array.from(good);
  crcOnly[crcOnly.length - 1] ^= 0xff;
  const decoded = decodePacket(crcOnly, TAGGER);
  assert.ok(decoded.ok, 'accepted: authenticated bytes with a damaged trailer');
  assert.equal(toHex((decoded.value as DataPacket).payload), '616263');
  // Without a key the CRC is the only check, as before.
  const v1 = encodePacket(GOLDEN[0].message);
  v1[v1.length - 1] ^= 0xff;
  const unkeyed = decodePacket(v1);
  assert.ok(!unkeyed.ok && unkeyed.error.code === PacketErrorCode.BadChecksum);
});
