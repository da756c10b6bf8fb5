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
