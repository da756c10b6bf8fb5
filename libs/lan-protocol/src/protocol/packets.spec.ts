import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../core/seeded-random';
import { senderIdOf, sessionIdOf } from '../session-ids';
import {
  DEFAULT_SYMBOL_BYTES,
  MAX_HAVE_RANGES,
  MAX_NACK_ENTRIES,
  MAX_PACKET_BYTES,
  MAX_SYMBOL_BYTES,
  PACKET_OVERHEAD_BYTES,
} from './constants';
import { crc32c } from './crc32c';
import { PacketEncodeError, PacketErrorCode } from './packet-errors';
import {
  PACKET_TYPE_CODES,
  Packet,
  PacketType,
  announceCodec,
  createSymbolEncoder,
  claimCodec,
  dataCodec,
  decodePacket,
  discoverCodec,
  doneCodec,
  encodePacket,
  joinCodec,
  nackCodec,
  parityCodec,
  peekSenderId,
  peekSessionId,
  peerHaveCodec,
  reportCodec,
} from './packets';

const hex = (spaced: string) => spaced.replace(/\s+/g, '');
const toHex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const fromHex = (h: string) => new Uint8Array(Buffer.from(hex(h), 'hex'));

const H = { sessionId: '0123456789abcdef', senderId: 'fedcba9876543210' };
// magic "FC", version 1; then the type byte; then session ID and sender ID.
const frame = (type: string) => `4643 01 ${type} 0123456789abcdef fedcba9876543210`;

/**
 * Golden bytes: each message encodes to exactly these bytes. The CRC32C trailers were checked with
 * an independent bit-by-bit implementation of the polynomial, not with the code under test.
 */
const GOLDEN: Array<{ message: Packet; bytes: string }> = [
  {
    message: { ...H, type: 'discover', weight: 200, blocksHeld: 3 },
    bytes: `${frame('01')} c8 00000003 5f6ff3ea`,
  },
  {
    message: {
      ...H,
      type: 'announce',
      seq: 7,
      phase: 'sending',
      weight: 100,
      contentId: 'ab'.repeat(32),
      size: 20 * 1024 * 1024 + 5,
      blockSize: 1048576,
      symbolSize: 1400,
      groupDataSymbols: 32,
      proactiveParity: 1,
      startDelayMs: 0,
      rateKbps: 100_000,
      blocksReady: 12,
      sendingBlock: 9,
    },
    // seq, phase 1 (sending), weight 100, content ID, size, block size, symbol size 1400, k 32,
    // proactive parity 1, start delay 0, rate 100000 kbit/s, blocks ready 12, sending block 9.
    bytes: `${frame('02')} 00000007 01 64 ${'ab'.repeat(32)} 0000000001400005 00100000 0578 20 01 00000000 000186a0 0000000c 00000009 0f4f5bb4`,
  },
  {
    message: { ...H, type: 'claim', weight: 1, blocksHeld: 0x01020304 },
    bytes: `${frame('03')} 01 01020304 31c6c18a`,
  },
  {
    message: { ...H, type: 'join', blocksHeld: 2 },
    bytes: `${frame('04')} 00000002 f8c4ae2e`,
  },
  {
    message: { ...H, type: 'data', block: 5, group: 23, index: 12, payload: Uint8Array.from([0xde, 0xad, 0xbe, 0xef]) },
    bytes: `${frame('05')} 00000005 0017 0c deadbeef 27083c33`,
  },
  {
    message: { ...H, type: 'parity', block: 0x0a0b0c0d, group: 0x0102, index: 223, payload: Uint8Array.from([1, 2, 3]) },
    bytes: `${frame('06')} 0a0b0c0d 0102 df 010203 95cf64fe`,
  },
  {
    message: {
      ...H,
      type: 'nack',
      entries: [
        { block: 1, firstGroup: 0, groupCount: 24, missing: 32 },
        { block: 2, firstGroup: 3, groupCount: 1, missing: 2 },
      ],
    },
    bytes: `${frame('07')} 02  00000001 0000 0018 20  00000002 0003 0001 02  4aaf1936`,
  },
  {
    message: { ...H, type: 'done', blocksHeld: 20 },
    bytes: `${frame('08')} 00000014 92419675`,
  },
  {
    message: { ...H, type: 'peer-have', port: 47471, ranges: [{ first: 0, count: 10 }, { first: 12, count: 3 }] },
    bytes: `${frame('09')} b96f 02  00000000 0000000a  0000000c 00000003  4f077c9a`,
  },
  {
    // interval 100 ms, loss 2.5 % (250 / 10,000), 48,000 kbit/s received, behind.
    message: { ...H, type: 'report', intervalMs: 100, lossPermyriad: 250, receiveKbps: 48_000, behind: true },
    bytes: `${frame('0c')} 0064 00fa 0000bb80 01 1f2d6532`,
  },
];

const CODECS = {
  discover: discoverCodec,
  announce: announceCodec,
  claim: claimCodec,
  join: joinCodec,
  data: dataCodec,
  parity: parityCodec,
  nack: nackCodec,
  done: doneCodec,
  'peer-have': peerHaveCodec,
  report: reportCodec,
} as const;

function codec(type: PacketType): { encode(m: Packet): Uint8Array; decode(b: Uint8Array): ReturnType<typeof decodePacket> } {
  return CODECS[type] as never;
}

test('crc32c: the RFC 3720 B.4 vectors and "123456789"', () => {
  const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(ascending), 0x46dd794e);
  assert.equal(crc32c(ascending.slice().reverse()), 0x113fdb5c);
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

test('crc32c: the 8-byte fast path agrees with a bit-by-bit reference at every length and offset', () => {
  const reference = (b: Uint8Array) => {
    let crc = 0xffffffff;
    for (const x of b) {
      crc ^= x;
      for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    }
    return (crc ^ 0xffffffff) >>> 0;
  };
  const random = seededRandom(1);
  const data = Uint8Array.from({ length: 64 }, () => Math.floor(random() * 256));
  for (let start = 0; start < 9; start++) {
    for (let end = start; end <= data.length; end++) assert.equal(crc32c(data, start, end), reference(data.subarray(start, end)), `[${start}, ${end})`);
  }
});

for (const { message, bytes } of GOLDEN) {
  test(`golden bytes: ${message.type}`, () => {
    const encoded = codec(message.type).encode(message);
    assert.equal(toHex(encoded), hex(bytes));
    assert.equal(toHex(encodePacket(message)), hex(bytes), 'encodePacket agrees with the per-type codec');
    assert.deepEqual(decodePacket(fromHex(bytes)), { ok: true, value: message });
    assert.deepEqual(codec(message.type).decode(fromHex(bytes)), { ok: true, value: message });
  });
}

const full = (n: number, fill: number) => new Uint8Array(n).fill(fill);

const ROUND_TRIPS: Packet[] = [
  { ...H, type: 'discover', weight: 0, blocksHeld: 0 },
  { ...H, type: 'discover', weight: 255, blocksHeld: 2 ** 32 - 1 },
  { ...H, type: 'claim', weight: 255, blocksHeld: 0 },
  {
    ...H,
    type: 'announce',
    seq: 2 ** 32 - 1,
    phase: 'gathering',
    weight: 1,
    contentId: 'f'.repeat(64),
    size: 0,
    blockSize: 1,
    symbolSize: 1,
    groupDataSymbols: 255,
    proactiveParity: 1,
    startDelayMs: 60_000,
    rateKbps: 0,
    blocksReady: 0,
    sendingBlock: 0,
  },
  {
    ...H,
    type: 'announce',
    seq: 0,
    phase: 'closing',
    weight: 255,
    contentId: '0'.repeat(64),
    size: Number.MAX_SAFE_INTEGER,
    blockSize: 2 ** 32 - 1,
    symbolSize: MAX_SYMBOL_BYTES,
    // 2^32 - 1 bytes a block in 1421-byte symbols needs k >= 47 to stay within 65536 groups.
    groupDataSymbols: 64,
    proactiveParity: 192,
    startDelayMs: 2 ** 32 - 1,
    rateKbps: 2 ** 32 - 1,
    blocksReady: 2097152,
    sendingBlock: 2097152,
  },
  { ...H, type: 'join', blocksHeld: 0 },
  { ...H, type: 'data', block: 0, group: 0, index: 0, payload: full(1, 7) },
  { ...H, type: 'data', block: 2 ** 32 - 1, group: 0xffff, index: 254, payload: full(MAX_SYMBOL_BYTES, 0xa5) },
  { ...H, type: 'parity', block: 7, group: 1, index: 0, payload: full(DEFAULT_SYMBOL_BYTES, 1) },
  { ...H, type: 'nack', entries: [{ block: 0, firstGroup: 0xffff, groupCount: 1, missing: 255 }] },
  {
    ...H,
    type: 'nack',
    entries: Array.from({ length: MAX_NACK_ENTRIES }, (_, i) => ({ block: i, firstGroup: 0, groupCount: 0xffff, missing: 1 + (i % 200) })),
  },
  { ...H, type: 'done', blocksHeld: 2 ** 32 - 1 },
  { ...H, type: 'peer-have', port: 0, ranges: [] },
  { ...H, type: 'peer-have', port: 65535, ranges: Array.from({ length: MAX_HAVE_RANGES }, (_, i) => ({ first: i * 10, count: 5 })) },
  { ...H, type: 'peer-have', port: 1, ranges: [{ first: 2 ** 32 - 1, count: 1 }] },
  { ...H, type: 'report', intervalMs: 1, lossPermyriad: 0, receiveKbps: 0, behind: false },
  { ...H, type: 'report', intervalMs: 0xffff, lossPermyriad: 10_000, receiveKbps: 2 ** 32 - 1, behind: true },
];

test('round trips: every message decodes to itself, by its codec and by decodePacket', () => {
  for (const message of ROUND_TRIPS) {
    const bytes = encodePacket(message);
    assert.ok(bytes.length <= MAX_PACKET_BYTES, `${message.type} fits one datagram`);
    assert.deepEqual(decodePacket(bytes), { ok: true, value: message }, message.type);
    assert.deepEqual(codec(message.type).decode(bytes), { ok: true, value: message }, message.type);
  }
});

test('decode reads a datagram at an offset inside a larger buffer (as Node hands them out)', () => {
  const bytes = encodePacket(GOLDEN[4].message);
  const pool = new Uint8Array(bytes.length + 13);
  pool.set(bytes, 5);
  assert.deepEqual(decodePacket(pool.subarray(5, 5 + bytes.length)), { ok: true, value: GOLDEN[4].message });
});

test('datagram budget: a full DATA symbol fills the budget exactly; the default symbol leaves room', () => {
  assert.equal(MAX_PACKET_BYTES, 1452);
  assert.equal(MAX_SYMBOL_BYTES, 1421);
  const max = encodePacket({ ...H, type: 'data', block: 0, group: 0, index: 0, payload: full(MAX_SYMBOL_BYTES, 0) });
  assert.equal(max.length, MAX_PACKET_BYTES);
  const typical = encodePacket({ ...H, type: 'data', block: 0, group: 0, index: 0, payload: full(DEFAULT_SYMBOL_BYTES, 0) });
  assert.equal(typical.length + 20 + 8, 1459, 'IPv4 packet of a default DATA');
  assert.ok(typical.length + 40 + 8 <= 1500, 'and as IPv6 it still fits a 1500-byte MTU');
  assert.throws(
    () => encodePacket({ ...H, type: 'data', block: 0, group: 0, index: 0, payload: full(MAX_SYMBOL_BYTES + 1, 0) }),
    (e: unknown) => e instanceof PacketEncodeError && e.code === 'PACKET.INVALID_MESSAGE',
  );
});

test('truncated at every length: a typed error, never a throw', () => {
  for (const { message, bytes } of GOLDEN) {
    const whole = fromHex(bytes);
    for (let n = 0; n < whole.length; n++) {
      const result = decodePacket(whole.subarray(0, n));
      assert.equal(result.ok, false, `${message.type} cut to ${n}`);
      if (!result.ok) {
        const expected = n < PACKET_OVERHEAD_BYTES ? PacketErrorCode.Truncated : PacketErrorCode.BadChecksum;
        assert.equal(result.error.code, expected, `${message.type} cut to ${n}`);
      }
    }
  }
});

test('every single-bit flip of every golden packet is rejected', () => {
  for (const { message, bytes } of GOLDEN) {
    const whole = fromHex(bytes);
    for (let bit = 0; bit < whole.length * 8; bit++) {
      const flipped = whole.slice();
      flipped[bit >> 3] ^= 1 << (bit & 7);
      const result = decodePacket(flipped);
      assert.equal(result.ok, false, `${message.type} bit ${bit}`);
      if (!result.ok) {
        // The magic and the version are checked before the CRC: foreign traffic and other versions are named as such.
        const expected = bit < 16 ? PacketErrorCode.BadMagic : bit < 24 ? PacketErrorCode.UnsupportedVersion : PacketErrorCode.BadChecksum;
        assert.equal(result.error.code, expected, `${message.type} bit ${bit}`);
      }
    }
  }
});

/** Rewrites bytes [at, at + patch.length) and fixes the CRC, as a buggy or hostile sender would. */
function patched(packet: Packet | Uint8Array, at: number, patch: number[]): Uint8Array {
  const bytes = packet instanceof Uint8Array ? packet.slice() : encodePacket(packet);
  bytes.set(patch, at);
  new DataView(bytes.buffer).setUint32(bytes.length - 4, crc32c(bytes, 0, bytes.length - 4));
  return bytes;
}

function withCrc(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, crc32c(body));
  return out;
}

const ANNOUNCE = GOLDEN[1].message;

const INVALID: Array<{ name: string; bytes: () => Uint8Array; code: string }> = [
  { name: 'wrong magic', bytes: () => patched(GOLDEN[0].message, 0, [0x46, 0x44]), code: PacketErrorCode.BadMagic },
  { name: 'version 2', bytes: () => patched(GOLDEN[0].message, 2, [2]), code: PacketErrorCode.UnsupportedVersion },
  { name: 'version 0', bytes: () => patched(GOLDEN[0].message, 2, [0]), code: PacketErrorCode.UnsupportedVersion },
  { name: 'unknown type byte', bytes: () => patched(GOLDEN[0].message, 3, [0x7f]), code: PacketErrorCode.UnknownType },
  { name: 'over-long datagram', bytes: () => new Uint8Array(MAX_PACKET_BYTES + 1), code: PacketErrorCode.TooLong },
  { name: 'empty datagram', bytes: () => new Uint8Array(0), code: PacketErrorCode.Truncated },
  {
    name: 'a trailing byte under a valid CRC',
    bytes: () => withCrc(Uint8Array.from([...encodePacket(GOLDEN[0].message).subarray(0, -4), 0])),
    code: PacketErrorCode.BadLength,
  },
  { name: 'claim of weight 0', bytes: () => patched(GOLDEN[2].message, 20, [0]), code: PacketErrorCode.BadField },
  { name: 'announce phase 9', bytes: () => patched(ANNOUNCE, 24, [9]), code: PacketErrorCode.BadField },
  { name: 'announce weight 0', bytes: () => patched(ANNOUNCE, 25, [0]), code: PacketErrorCode.BadField },
  { name: 'announce size past 2^53', bytes: () => patched(ANNOUNCE, 58, [0x00, 0x20, 0, 0, 0, 0, 0, 0]), code: PacketErrorCode.BadField },
  { name: 'announce block size 0', bytes: () => patched(ANNOUNCE, 66, [0, 0, 0, 0]), code: PacketErrorCode.BadField },
  { name: 'announce symbol size past the budget', bytes: () => patched(ANNOUNCE, 70, [0x05, 0x8e]), code: PacketErrorCode.BadField },
  { name: 'announce k of 0', bytes: () => patched(ANNOUNCE, 72, [0]), code: PacketErrorCode.BadField },
  { name: 'announce k + parity past 256', bytes: () => patched(ANNOUNCE, 72, [200, 57]), code: PacketErrorCode.BadField },
  { name: 'announce blocks ready past the block count', bytes: () => patched(ANNOUNCE, 82, [0, 0, 0, 22]), code: PacketErrorCode.BadField },
  { name: 'announce with 65537 groups a block', bytes: () => patched(ANNOUNCE, 66, [0xff, 0xff, 0xff, 0xff, 0, 1, 1]), code: PacketErrorCode.BadField },
  { name: 'data index 255', bytes: () => patched(GOLDEN[4].message, 26, [255]), code: PacketErrorCode.BadField },
  { name: 'data without payload', bytes: () => withCrc(encodePacket(GOLDEN[4].message).subarray(0, 27)), code: PacketErrorCode.BadLength },
  { name: 'nack count 0', bytes: () => patched(GOLDEN[6].message, 20, [0]), code: PacketErrorCode.BadField },
  { name: 'nack count larger than the body', bytes: () => patched(GOLDEN[6].message, 20, [3]), code: PacketErrorCode.BadLength },
  { name: 'nack group count 0', bytes: () => patched(GOLDEN[6].message, 27, [0, 0]), code: PacketErrorCode.BadField },
  { name: 'nack group range past 65536', bytes: () => patched(GOLDEN[6].message, 25, [0xff, 0xff, 0, 2]), code: PacketErrorCode.BadField },
  { name: 'nack missing 0', bytes: () => patched(GOLDEN[6].message, 29, [0]), code: PacketErrorCode.BadField },
  { name: 'peer-have range count past the body', bytes: () => patched(GOLDEN[8].message, 22, [3]), code: PacketErrorCode.BadLength },
  { name: 'peer-have range of 0 blocks', bytes: () => patched(GOLDEN[8].message, 27, [0, 0, 0, 0]), code: PacketErrorCode.BadField },
  { name: 'peer-have range past 2^32', bytes: () => patched(GOLDEN[8].message, 23, [0xff, 0xff, 0xff, 0xff]), code: PacketErrorCode.BadField },
  { name: 'report interval 0', bytes: () => patched(GOLDEN[9].message, 20, [0, 0]), code: PacketErrorCode.BadField },
  { name: 'report loss past 100 %', bytes: () => patched(GOLDEN[9].message, 22, [0x27, 0x11]), code: PacketErrorCode.BadField },
  { name: 'report body cut short', bytes: () => withCrc(encodePacket(GOLDEN[9].message).subarray(0, 28)), code: PacketErrorCode.BadLength },
];

test('invalid datagrams: each is named by a stable code', () => {
  for (const { name, bytes, code } of INVALID) {
    const result = decodePacket(bytes());
    assert.equal(result.ok, false, name);
    if (!result.ok) assert.equal(result.error.code, code, `${name}: ${result.error.message}`);
  }
});

test('a per-type decoder handed another type says so', () => {
  const result = dataCodec.decode(encodePacket(GOLDEN[0].message));
  assert.deepEqual(result.ok ? null : result.error.code, PacketErrorCode.WrongType);
});

test('garbage never throws: random bytes, and random bodies under a valid frame and CRC', () => {
  const random = seededRandom(42);
  const byte = () => Math.floor(random() * 256);
  const codes = Object.values(PACKET_TYPE_CODES);
  for (let i = 0; i < 20_000; i++) {
    const length = Math.floor(random() * 120);
    const body = Uint8Array.from({ length }, byte);
    const framed = i % 2 === 0;
    let bytes: Uint8Array = body;
    if (framed) {
      // A valid frame with a random body: reaches every type's body parser.
      const head = fromHex(frame(codes[i % codes.length].toString(16).padStart(2, '0')));
      bytes = withCrc(Uint8Array.from([...head, ...body]));
    }
    const result = decodePacket(bytes);
    if (result.ok) {
      // Whatever decodes is canonical: it encodes back to the same bytes.
      assert.equal(toHex(encodePacket(result.value)), toHex(bytes));
    } else {
      assert.match(result.error.code, /^PACKET\./);
    }
  }
});

test('encode refuses messages out of range (a caller bug), with a stable code', () => {
  const bad: Array<[string, Packet]> = [
    ['short session ID', { ...GOLDEN[0].message, sessionId: 'abc' } as Packet],
    ['upper-case sender ID', { ...GOLDEN[0].message, senderId: 'FEDCBA9876543210' } as Packet],
    ['weight 256', { ...H, type: 'discover', weight: 256, blocksHeld: 0 }],
    ['claim of weight 0', { ...H, type: 'claim', weight: 0, blocksHeld: 0 }],
    ['fractional blocks', { ...H, type: 'join', blocksHeld: 1.5 }],
    ['negative block', { ...H, type: 'data', block: -1, group: 0, index: 0, payload: full(1, 0) }],
    ['empty payload', { ...H, type: 'parity', block: 0, group: 0, index: 0, payload: new Uint8Array(0) }],
    ['no NACK entries', { ...H, type: 'nack', entries: [] }],
    ['too many NACK entries', { ...H, type: 'nack', entries: Array.from({ length: MAX_NACK_ENTRIES + 1 }, () => ({ block: 0, firstGroup: 0, groupCount: 1, missing: 1 })) }],
    ['too many ranges', { ...H, type: 'peer-have', port: 1, ranges: Array.from({ length: MAX_HAVE_RANGES + 1 }, () => ({ first: 0, count: 1 })) }],
    ['announce content ID not hex', { ...(ANNOUNCE as Packet), contentId: 'x'.repeat(64) } as Packet],
    ['announce k + parity past 256', { ...(ANNOUNCE as Packet), groupDataSymbols: 200, proactiveParity: 57 } as Packet],
    ['announce unknown phase', { ...(ANNOUNCE as Packet), phase: 'done' } as unknown as Packet],
    ['announce unsafe size', { ...(ANNOUNCE as Packet), size: 2 ** 53 } as Packet],
  ];
  for (const [name, message] of bad) {
    assert.throws(() => encodePacket(message), (e: unknown) => e instanceof PacketEncodeError && e.code === 'PACKET.INVALID_MESSAGE', name);
  }
  assert.throws(() => joinCodec.encode(GOLDEN[0].message as never), PacketEncodeError, 'a per-type encoder refuses another type');
});

test('session and sender IDs: stable, 8 bytes, and separated by kind', () => {
  assert.equal(sessionIdOf('task-1'), sessionIdOf('task-1'));
  assert.match(sessionIdOf('task-1'), /^[0-9a-f]{16}$/);
  assert.match(senderIdOf('device-1'), /^[0-9a-f]{16}$/);
  assert.notEqual(sessionIdOf('x'), senderIdOf('x'));
  assert.notEqual(sessionIdOf('task-1'), sessionIdOf('task-2'));
  const packet = encodePacket({ type: 'join', sessionId: sessionIdOf('task-1'), senderId: senderIdOf('device-1'), blocksHeld: 0 });
  assert.equal(packet.length, PACKET_OVERHEAD_BYTES + 4);
});

test('symbol encoder: the same bytes as encodePacket for DATA and PARITY, with and without a tag; the peeks read the header', () => {
  const tagger = (bytes: Uint8Array) => Uint8Array.from({ length: 32 }, (_, i) => (bytes.length * 7 + bytes[i % bytes.length] + i) & 0xff);
  const random = seededRandom(5);
  for (const tag of [undefined, tagger]) {
    const encode = createSymbolEncoder(H, tag);
    for (const [type, block, group, index, length] of [['data', 0, 0, 0, 1], ['data', 7, 300, 127, DEFAULT_SYMBOL_BYTES], ['parity', 2 ** 32 - 1, 0xffff, 254, 1405]] as const) {
      const payload = Uint8Array.from({ length }, () => Math.floor(random() * 256));
      const bytes = encode(type, block, group, index, payload);
      assert.equal(toHex(bytes), toHex(encodePacket({ ...H, type, block, group, index, payload }, tag)));
      assert.equal(peekSenderId(bytes), H.senderId);
      assert.equal(peekSessionId(bytes), H.sessionId);
    }
    assert.throws(() => encode('data', 0, 0, 255, new Uint8Array(1)), PacketEncodeError);
    assert.throws(() => encode('data', 0, 0x10000, 0, new Uint8Array(1)), PacketEncodeError);
    assert.throws(() => encode('parity', 0, 0, 0, new Uint8Array(0)), PacketEncodeError);
  }
  assert.throws(() => createSymbolEncoder({ sessionId: 'xyz', senderId: H.senderId }), PacketEncodeError);
  assert.equal(peekSenderId(new Uint8Array(10)), null);
});

test('report: fields a later version appends are ignored; its type code is one no earlier packet used', () => {
  const bytes = encodePacket(GOLDEN[9].message);
  const longer = withCrc(Uint8Array.from([...bytes.subarray(0, -4), 0xaa, 0xbb, 0xcc]));
  assert.deepEqual(decodePacket(longer), { ok: true, value: GOLDEN[9].message });
  // Reserved flag bits read as nothing: only bit 0 is `behind`.
  assert.deepEqual(decodePacket(patched(GOLDEN[9].message, 28, [0xfe])), { ok: true, value: { ...GOLDEN[9].message, behind: false } });
  // A device that predates REPORT knows codes 0x01-0x0b only: it reports UNKNOWN_TYPE instead of misreading a body.
  assert.equal(reportCodec.code, 0x0c);
  assert.ok(bytes[3] > 0x0b);
});
