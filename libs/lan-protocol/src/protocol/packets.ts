import {
  AUTHENTICATED_PROTOCOL_VERSION,
  AUTH_TAG_BYTES,
  CLAIM_PROOF_BYTES,
  CONTROL_PLANE_KEY_ID_BYTES,
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  HAVE_RANGE_BYTES,
  HEADER_BYTES,
  MAX_CODE_SYMBOLS,
  MAX_HAVE_RANGES,
  MAX_NACK_ENTRIES,
  MAX_PACKET_BYTES,
  MAX_SYMBOL_BYTES,
  MAX_WEIGHT,
  NACK_ENTRY_BYTES,
  PACKET_MAGIC,
  PACKET_OVERHEAD_BYTES,
  PROTOCOL_VERSION,
  SENDER_ID_BYTES,
  SESSION_ID_BYTES,
  SYMBOL_ADDRESS_BYTES,
  TRAILER_BYTES,
} from './constants';
import { crc32c } from './crc32c';
import { HexIdCache, bytesToHex, isHexId, writeHex } from './ids';
import { DecodeResult, PacketEncodeError, PacketErrorCode, decodeFailure } from './packet-errors';

/**
 * Versioned binary packets of the subnet multicast protocol.
 *
 *   offset  size  field
 *   0       2     magic "FC" (0x46 0x43)
 *   2       1     version (1)
 *   3       1     type (PACKET_TYPE_CODES)
 *   4       8     session ID (SHA-256 of the task ID, first 8 bytes)
 *   12      8     sender ID (SHA-256 of the device ID, first 8 bytes)
 *   20      n     body (per type, below)
 *   20+n    4     CRC32C of bytes [0, 20+n)
 *
 * Version 2 (authenticated) inserts a tag before the CRC:
 *   20+n    16    tag: the first 16 bytes of HMAC-SHA-256(LAN key, bytes [0, 20+n))
 *   36+n    4     CRC32C of bytes [0, 36+n)
 * The codec stays free of Node modules: the caller injects the MAC as a `PacketTagger`.
 *
 * Signed ANNOUNCE and CLAIM (type codes 0x0a and 0x0b) are the same bodies followed by a claim proof:
 *   0       8     control-plane key ID that signed the ticket
 *   8       32    the claimant's Ed25519 public key (raw)
 *   40      4     the ticket's expiry, Unix seconds
 *   44      64    ticket: the control plane's signature over (task, sender ID, public key, expiry)
 *   108     64    the claimant's signature, with that key, over every packet byte before it
 * The codec lays the proof out and hands the bytes to an injected `ClaimSigner`; checking it needs
 * the control plane's keys and lives in `auth/claim-proof.ts`. The unsigned codes stay as they were:
 * a session that requires proofs refuses them (see `verifyClaimProof`).
 *
 * Every type is a pure `encode` / `decode` pair. `decode` never throws: bad bytes come back as a
 * typed error, because one malformed datagram must not take down the receive loop. `encode`
 * throws PacketEncodeError for a message out of range: that is a bug in the caller.
 */

export const PACKET_TYPE_CODES = {
  discover: 0x01,
  announce: 0x02,
  claim: 0x03,
  join: 0x04,
  data: 0x05,
  parity: 0x06,
  nack: 0x07,
  done: 0x08,
  'peer-have': 0x09,
  // 0x0a and 0x0b are the signed ANNOUNCE and CLAIM (SIGNED_PACKET_TYPE_CODES).
  report: 0x0c,
} as const;
export type PacketType = keyof typeof PACKET_TYPE_CODES;

/**
 * Type codes of the signed variants: a new code rather than a longer body under the old one, so
 * that a device that predates proofs reports PACKET.UNKNOWN_TYPE instead of misreading the body.
 */
export const SIGNED_PACKET_TYPE_CODES = {
  announce: 0x0a,
  claim: 0x0b,
} as const;
export type SignedPacketType = keyof typeof SIGNED_PACKET_TYPE_CODES;

/**
 * What the control plane says of a claimant, carried in its signed ANNOUNCE and CLAIM: the ticket
 * binds the task, the sender ID and the device's public key until `notAfter`.
 */
export interface ClaimProof {
  /** 16 lowercase hex characters: the control-plane key that signed the ticket. */
  keyId: string;
  /** The claimant's Ed25519 public key, raw (32 bytes). */
  devicePublicKey: Uint8Array;
  /** Expiry of the ticket, Unix seconds. */
  notAfter: number;
  /** The control plane's Ed25519 signature over the ticket (64 bytes). */
  ticketSignature: Uint8Array;
}

/** A proof as decoded: also the claimant's signature and the bytes it covers (a view into the datagram). */
export interface ReceivedClaimProof extends ClaimProof {
  signature: Uint8Array;
  signedBytes: Uint8Array;
}

/**
 * Signs a signed packet's bytes with the claimant's device key: returns a 64-byte Ed25519 signature.
 * Injected, as the tagger is, so that this module needs no crypto library (`createClaimSigner`).
 */
export type ClaimSigner = (bytes: Uint8Array) => Uint8Array;

/** Fields of every packet's header besides magic, version and type. */
export interface PacketHeader {
  /** 16 lowercase hex characters (8 bytes): the task, hashed (`sessionIdOf`). */
  sessionId: string;
  /** 16 lowercase hex characters (8 bytes): the sending device, hashed (`senderIdOf`). */
  senderId: string;
}

/** "Is there a session for this task?" Carries what the sender would claim with, so that only the best-ranked device claims. */
export interface DiscoverPacket extends PacketHeader {
  type: 'discover';
  /** 0 (never representative) .. 255. */
  weight: number;
  /** Verified blocks of the content the sender already holds (the election's first tie-break). */
  blocksHeld: number;
}

/** "I will be the representative": resolved by weight, then blocks held, then the lower sender ID. */
export interface ClaimPacket extends PacketHeader {
  type: 'claim';
  /** 1..255: a weight-0 device never claims. */
  weight: number;
  blocksHeld: number;
  /** Present in the signed variant: who the claimant is, as the control plane vouches. */
  proof?: ClaimProof | ReceivedClaimProof;
}

/** Where a session is in its life, as the representative announces it. */
export const SESSION_PHASES = ['gathering', 'sending', 'repairing', 'closing'] as const;
export type SessionPhase = (typeof SESSION_PHASES)[number];

/** The representative's session description and keep-alive. */
export interface AnnouncePacket extends PacketHeader {
  type: 'announce';
  /** Increments with every ANNOUNCE of the session, so a receiver can drop one that arrives out of order. */
  seq: number;
  phase: SessionPhase;
  /** The representative's weight: two representatives that meet resolve by weight, then lower sender ID. */
  weight: number;
  /** SHA-256 of the content, 64 hex characters: a receiver checks it against the manifest from the control plane. */
  contentId: string;
  /** Content size in bytes (up to 2^53 - 1). */
  size: number;
  /** Block size of the manifest (1 MiB today). */
  blockSize: number;
  /** Bytes per symbol; every DATA symbol has it but the last one of a block. */
  symbolSize: number;
  /** Data symbols per FEC group (k), 1..255. */
  groupDataSymbols: number;
  /** Parity symbols the first pass sends with every group, before any NACK (k + this <= 256). */
  proactiveParity: number;
  /** Milliseconds until the multicast starts; 0 once it has. Relative, so no clock needs to agree. */
  startDelayMs: number;
  /** Send rate limit in kbit/s; 0 when unlimited. */
  rateKbps: number;
  /** Blocks [0, blocksReady) are held by the representative: the LAN follows the WAN download. */
  blocksReady: number;
  /** The block being multicast now (the block count once the first pass is over). */
  sendingBlock: number;
  /** Present in the signed variant: who the representative is, as the control plane vouches. */
  proof?: ClaimProof | ReceivedClaimProof;
}

/** A receiver joins the session (and says how much it already has). */
export interface JoinPacket extends PacketHeader {
  type: 'join';
  blocksHeld: number;
}

/** Data symbol `index` (< k) of FEC group `group` of block `block`. */
export interface DataPacket extends PacketHeader {
  type: 'data';
  block: number;
  group: number;
  index: number;
  /** A view into the decoded datagram (no copy): copy it if the datagram's buffer is reused. */
  payload: Uint8Array;
}

/** Parity (repair) symbol `index` of FEC group `group` of block `block`: any k distinct symbols of a group decode it. */
export interface ParityPacket extends PacketHeader {
  type: 'parity';
  block: number;
  group: number;
  /** Parity index 0..(256 - k - 1); its code symbol index is k + index. */
  index: number;
  payload: Uint8Array;
}

/** `groupCount` consecutive groups of `block`, starting at `firstGroup`, each lacking `missing` symbols. */
export interface NackEntry {
  block: number;
  firstGroup: number;
  groupCount: number;
  missing: number;
}

/** "These groups still lack symbols": read by the sender (to repair) and by other receivers (to hold their own). */
export interface NackPacket extends PacketHeader {
  type: 'nack';
  /** 1..MAX_NACK_ENTRIES entries. */
  entries: NackEntry[];
}

/** A receiver holds the whole content, verified. */
export interface DonePacket extends PacketHeader {
  type: 'done';
  blocksHeld: number;
}

export interface BlockRange {
  first: number;
  count: number;
}

/** Blocks a device holds and serves to peers on `port` (unicast, verified by the fetcher). */
export interface PeerHavePacket extends PacketHeader {
  type: 'peer-have';
  /** TCP port of the device's peer repair server; its address is the datagram's source address. */
  port: number;
  /** 0..MAX_HAVE_RANGES ranges; several PEER_HAVE packets add up. */
  ranges: BlockRange[];
}

/**
 * A receiver's reception over its last report interval, multicast so that the sender's rate
 * controller and the other receivers (which class a far slower receiver the same way, see
 * `core/rate-control.ts`) all read it. A new type code, not a longer NACK or DONE: a device that
 * predates it reports PACKET.UNKNOWN_TYPE for it and goes on, instead of misreading a known body.
 * Later fields are appended: this decoder reads the first REPORT_BODY_BYTES and ignores the rest.
 */
export interface ReportPacket extends PacketHeader {
  type: 'report';
  /** Milliseconds the figures cover, 1..65535. */
  intervalMs: number;
  /** First-pass DATA symbols lost in the interval, in 1/10,000 of those expected (0..10,000). */
  lossPermyriad: number;
  /** DATA and PARITY packets received in the interval, kbit/s of IP packets (what the sender's rate counts). */
  receiveKbps: number;
  /** The receiver takes no more part in repair: far slower than the rest, it takes what it lacks from peers after the pass. */
  behind: boolean;
}

export type Packet =
  | DiscoverPacket
  | AnnouncePacket
  | ClaimPacket
  | JoinPacket
  | DataPacket
  | ParityPacket
  | NackPacket
  | DonePacket
  | PeerHavePacket
  | ReportPacket;

/**
 * The MAC of an authenticated session: returns the tag of `bytes` (at least AUTH_TAG_BYTES; the
 * codec uses the first AUTH_TAG_BYTES). Injected so that this module needs no crypto library;
 * `createPacketTagger` (src/auth) builds one from a task's LAN key.
 */
export type PacketTagger = (bytes: Uint8Array) => Uint8Array;

export interface PacketCodec<P extends Packet> {
  readonly type: PacketType;
  readonly code: number;
  /** Version 1, or version 2 with a tag when `tagger` is given; a message with a claim proof needs `signer`. */
  encode(message: P, tagger?: PacketTagger, signer?: ClaimSigner): Uint8Array;
  /** Without a tagger, version 1 only; with one, version 2 only, its tag checked (PACKET.BAD_AUTH). */
  decode(bytes: Uint8Array, tagger?: PacketTagger): DecodeResult<P>;
}

/** How one type's body is laid out; the frame (header, CRC, length limits) is common. */
interface BodySpec<P extends Packet> {
  type: P['type'];
  /** The type code of the variant that ends with a claim proof, for the types that have one. */
  signedCode?: number;
  /** Validates the message and returns its body length; throws PacketEncodeError. */
  bodyLength(message: P): number;
  write(view: DataView, bytes: Uint8Array, at: number, message: P): void;
  /** Reads the body in [at, end); the frame is already checked. */
  read(view: DataView, bytes: Uint8Array, at: number, end: number, header: PacketHeader): DecodeResult<P>;
}

const U32_LIMIT = 2 ** 32;

function checkUint(name: string, value: number, max: number, min = 0): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PacketEncodeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

function badLength(type: PacketType, expected: string, got: number): { ok: false; error: { code: PacketErrorCode; message: string } } {
  return decodeFailure(PacketErrorCode.BadLength, `${type} body must be ${expected} bytes, got ${got}`);
}

function badField(type: PacketType, message: string): { ok: false; error: { code: PacketErrorCode; message: string } } {
  return decodeFailure(PacketErrorCode.BadField, `${type}: ${message}`);
}

/** DISCOVER and CLAIM share a body: weight (1) + blocks held (4). */
function rankBody<P extends DiscoverPacket | ClaimPacket>(type: P['type'], minWeight: number): BodySpec<P> {
  return {
    type,
    bodyLength(m) {
      checkUint(`${type}.weight`, m.weight, MAX_WEIGHT, minWeight);
      checkUint(`${type}.blocksHeld`, m.blocksHeld, U32_LIMIT - 1);
      return 5;
    },
    write(view, _bytes, at, m) {
      view.setUint8(at, m.weight);
      view.setUint32(at + 1, m.blocksHeld);
    },
    read(view, _bytes, at, end, header) {
      if (end - at !== 5) return badLength(type, '5', end - at);
      const weight = view.getUint8(at);
      if (weight < minWeight) return badField(type, `weight must be at least ${minWeight}`);
      return { ok: true, value: { ...header, type, weight, blocksHeld: view.getUint32(at + 1) } as P };
    },
  };
}

/** JOIN and DONE share a body: blocks held (4). */
function countBody<P extends JoinPacket | DonePacket>(type: P['type']): BodySpec<P> {
  return {
    type,
    bodyLength(m) {
      checkUint(`${type}.blocksHeld`, m.blocksHeld, U32_LIMIT - 1);
      return 4;
    },
    write(view, _bytes, at, m) {
      view.setUint32(at, m.blocksHeld);
    },
    read(view, _bytes, at, end, header) {
      if (end - at !== 4) return badLength(type, '4', end - at);
      return { ok: true, value: { ...header, type, blocksHeld: view.getUint32(at) } as P };
    },
  };
}

/** DATA and PARITY share a body: block (4) + group (2) + index (1) + symbol (1..MAX_SYMBOL_BYTES). */
function symbolBody<P extends DataPacket | ParityPacket>(type: P['type'], maxIndex: number): BodySpec<P> {
  return {
    type,
    bodyLength(m) {
      checkUint(`${type}.block`, m.block, U32_LIMIT - 1);
      checkUint(`${type}.group`, m.group, 0xffff);
      checkUint(`${type}.index`, m.index, maxIndex);
      if (!(m.payload instanceof Uint8Array) || m.payload.length < 1 || m.payload.length > MAX_SYMBOL_BYTES) {
        throw new PacketEncodeError(`${type}.payload must be 1..${MAX_SYMBOL_BYTES} bytes`);
      }
      return SYMBOL_ADDRESS_BYTES + m.payload.length;
    },
    write(view, bytes, at, m) {
      view.setUint32(at, m.block);
      view.setUint16(at + 4, m.group);
      view.setUint8(at + 6, m.index);
      bytes.set(m.payload, at + SYMBOL_ADDRESS_BYTES);
    },
    read(view, bytes, at, end, header) {
      if (end - at < SYMBOL_ADDRESS_BYTES + 1) return badLength(type, `${SYMBOL_ADDRESS_BYTES + 1} or more`, end - at);
      const index = view.getUint8(at + 6);
      if (index > maxIndex) return badField(type, `index ${index} is past ${maxIndex}`);
      // Fields spelled out rather than spread from the header: this runs for every symbol of a session.
      return {
        ok: true,
        value: {
          sessionId: header.sessionId,
          senderId: header.senderId,
          type,
          block: view.getUint32(at),
          group: view.getUint16(at + 4),
          index,
          payload: bytes.subarray(at + SYMBOL_ADDRESS_BYTES, end),
        } as P,
      };
    },
  };
}

const ANNOUNCE_BODY_BYTES = 4 + 1 + 1 + 32 + 8 + 4 + 2 + 1 + 1 + 4 + 4 + 4 + 4;

const announceBody: BodySpec<AnnouncePacket> = {
  type: 'announce',
  bodyLength(m) {
    checkUint('announce.seq', m.seq, U32_LIMIT - 1);
    if (!SESSION_PHASES.includes(m.phase)) throw new PacketEncodeError(`announce.phase "${m.phase}" is not one of ${SESSION_PHASES.join(', ')}`);
    checkUint('announce.weight', m.weight, MAX_WEIGHT, 1);
    if (!isHexId(m.contentId, 32)) throw new PacketEncodeError('announce.contentId must be 64 lowercase hex characters');
    checkUint('announce.size', m.size, Number.MAX_SAFE_INTEGER);
    checkUint('announce.blockSize', m.blockSize, U32_LIMIT - 1, 1);
    checkUint('announce.symbolSize', m.symbolSize, MAX_SYMBOL_BYTES, 1);
    checkUint('announce.groupDataSymbols', m.groupDataSymbols, MAX_CODE_SYMBOLS - 1, 1);
    checkUint('announce.proactiveParity', m.proactiveParity, MAX_CODE_SYMBOLS - m.groupDataSymbols);
    checkUint('announce.startDelayMs', m.startDelayMs, U32_LIMIT - 1);
    checkUint('announce.rateKbps', m.rateKbps, U32_LIMIT - 1);
    checkUint('announce.blocksReady', m.blocksReady, U32_LIMIT - 1);
    checkUint('announce.sendingBlock', m.sendingBlock, U32_LIMIT - 1);
    const error = announceShapeError(m);
    if (error !== null) throw new PacketEncodeError(`announce: ${error}`);
    return ANNOUNCE_BODY_BYTES;
  },
  write(view, bytes, at, m) {
    view.setUint32(at, m.seq);
    view.setUint8(at + 4, SESSION_PHASES.indexOf(m.phase));
    view.setUint8(at + 5, m.weight);
    writeHex(bytes, at + 6, m.contentId);
    view.setBigUint64(at + 38, BigInt(m.size));
    view.setUint32(at + 46, m.blockSize);
    view.setUint16(at + 50, m.symbolSize);
    view.setUint8(at + 52, m.groupDataSymbols);
    view.setUint8(at + 53, m.proactiveParity);
    view.setUint32(at + 54, m.startDelayMs);
    view.setUint32(at + 58, m.rateKbps);
    view.setUint32(at + 62, m.blocksReady);
    view.setUint32(at + 66, m.sendingBlock);
  },
  read(view, bytes, at, end, header) {
    if (end - at !== ANNOUNCE_BODY_BYTES) return badLength('announce', String(ANNOUNCE_BODY_BYTES), end - at);
    const phase = SESSION_PHASES[view.getUint8(at + 4)];
    if (phase === undefined) return badField('announce', `unknown phase ${view.getUint8(at + 4)}`);
    const size = view.getBigUint64(at + 38);
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) return badField('announce', `size ${size} is past 2^53 - 1`);
    const value: AnnouncePacket = {
      ...header,
      type: 'announce',
      seq: view.getUint32(at),
      phase,
      weight: view.getUint8(at + 5),
      contentId: bytesToHex(bytes, at + 6, 32),
      size: Number(size),
      blockSize: view.getUint32(at + 46),
      symbolSize: view.getUint16(at + 50),
      groupDataSymbols: view.getUint8(at + 52),
      proactiveParity: view.getUint8(at + 53),
      startDelayMs: view.getUint32(at + 54),
      rateKbps: view.getUint32(at + 58),
      blocksReady: view.getUint32(at + 62),
      sendingBlock: view.getUint32(at + 66),
    };
    if (value.weight < 1) return badField('announce', 'weight must be at least 1');
    if (value.blockSize < 1) return badField('announce', 'blockSize must be at least 1');
    if (value.symbolSize < 1 || value.symbolSize > MAX_SYMBOL_BYTES) return badField('announce', `symbolSize must be 1..${MAX_SYMBOL_BYTES}`);
    if (value.groupDataSymbols < 1) return badField('announce', 'groupDataSymbols must be at least 1');
    if (value.groupDataSymbols + value.proactiveParity > MAX_CODE_SYMBOLS) return badField('announce', `groupDataSymbols + proactiveParity must be at most ${MAX_CODE_SYMBOLS}`);
    const error = announceShapeError(value);
    if (error !== null) return badField('announce', error);
    return { ok: true, value };
  },
};

/** Cross-field checks of an ANNOUNCE: groups addressable in 16 bits, progress within the content. */
function announceShapeError(m: AnnouncePacket): string | null {
  const blocks = m.size === 0 ? 0 : Math.ceil(m.size / m.blockSize);
  const groupsPerBlock = Math.ceil(Math.ceil(Math.min(m.blockSize, Math.max(m.size, 1)) / m.symbolSize) / m.groupDataSymbols);
  if (groupsPerBlock > 0x10000) return `a block has ${groupsPerBlock} FEC groups; at most 65536 are addressable`;
  if (m.blocksReady > blocks) return `blocksReady ${m.blocksReady} is past the block count ${blocks}`;
  if (m.sendingBlock > blocks) return `sendingBlock ${m.sendingBlock} is past the block count ${blocks}`;
  return null;
}

const nackBody: BodySpec<NackPacket> = {
  type: 'nack',
  bodyLength(m) {
    if (!Array.isArray(m.entries) || m.entries.length < 1 || m.entries.length > MAX_NACK_ENTRIES) {
      throw new PacketEncodeError(`nack.entries must hold 1..${MAX_NACK_ENTRIES} entries`);
    }
    for (const e of m.entries) {
      checkUint('nack.block', e.block, U32_LIMIT - 1);
      checkUint('nack.firstGroup', e.firstGroup, 0xffff);
      checkUint('nack.groupCount', e.groupCount, 0x10000 - e.firstGroup, 1);
      checkUint('nack.groupCount', e.groupCount, 0xffff, 1);
      checkUint('nack.missing', e.missing, MAX_CODE_SYMBOLS - 1, 1);
    }
    return 1 + m.entries.length * NACK_ENTRY_BYTES;
  },
  write(view, _bytes, at, m) {
    view.setUint8(at, m.entries.length);
    let o = at + 1;
    for (const e of m.entries) {
      view.setUint32(o, e.block);
      view.setUint16(o + 4, e.firstGroup);
      view.setUint16(o + 6, e.groupCount);
      view.setUint8(o + 8, e.missing);
      o += NACK_ENTRY_BYTES;
    }
  },
  read(view, _bytes, at, end, header) {
    if (end - at < 1) return badLength('nack', 'at least 1', end - at);
    const count = view.getUint8(at);
    if (count < 1 || count > MAX_NACK_ENTRIES) return badField('nack', `entry count ${count} is outside 1..${MAX_NACK_ENTRIES}`);
    if (end - at !== 1 + count * NACK_ENTRY_BYTES) return badLength('nack', `1 + ${count} x ${NACK_ENTRY_BYTES}`, end - at);
    const entries: NackEntry[] = [];
    for (let i = 0, o = at + 1; i < count; i++, o += NACK_ENTRY_BYTES) {
      const entry = { block: view.getUint32(o), firstGroup: view.getUint16(o + 4), groupCount: view.getUint16(o + 6), missing: view.getUint8(o + 8) };
      if (entry.groupCount < 1 || entry.firstGroup + entry.groupCount > 0x10000) return badField('nack', `entry ${i} has group range ${entry.firstGroup}+${entry.groupCount}`);
      if (entry.missing < 1) return badField('nack', `entry ${i} is missing no symbol`);
      entries.push(entry);
    }
    return { ok: true, value: { ...header, type: 'nack', entries } };
  },
};

const peerHaveBody: BodySpec<PeerHavePacket> = {
  type: 'peer-have',
  bodyLength(m) {
    checkUint('peer-have.port', m.port, 0xffff);
    if (!Array.isArray(m.ranges) || m.ranges.length > MAX_HAVE_RANGES) throw new PacketEncodeError(`peer-have.ranges must hold at most ${MAX_HAVE_RANGES} ranges`);
    for (const r of m.ranges) {
      checkUint('peer-have.first', r.first, U32_LIMIT - 1);
      checkUint('peer-have.count', r.count, U32_LIMIT - r.first, 1);
    }
    return 2 + 1 + m.ranges.length * HAVE_RANGE_BYTES;
  },
  write(view, _bytes, at, m) {
    view.setUint16(at, m.port);
    view.setUint8(at + 2, m.ranges.length);
    let o = at + 3;
    for (const r of m.ranges) {
      view.setUint32(o, r.first);
      view.setUint32(o + 4, r.count);
      o += HAVE_RANGE_BYTES;
    }
  },
  read(view, _bytes, at, end, header) {
    if (end - at < 3) return badLength('peer-have', 'at least 3', end - at);
    const count = view.getUint8(at + 2);
    if (count > MAX_HAVE_RANGES) return badField('peer-have', `range count ${count} is past ${MAX_HAVE_RANGES}`);
    if (end - at !== 3 + count * HAVE_RANGE_BYTES) return badLength('peer-have', `3 + ${count} x ${HAVE_RANGE_BYTES}`, end - at);
    const ranges: BlockRange[] = [];
    for (let i = 0, o = at + 3; i < count; i++, o += HAVE_RANGE_BYTES) {
      const range = { first: view.getUint32(o), count: view.getUint32(o + 4) };
      if (range.count < 1 || range.first + range.count > U32_LIMIT) return badField('peer-have', `range ${i} is ${range.first}+${range.count}`);
      ranges.push(range);
    }
    return { ok: true, value: { ...header, type: 'peer-have', port: view.getUint16(at), ranges } };
  },
};

/** intervalMs (2) + lossPermyriad (2) + receiveKbps (4) + flags (1). */
export const REPORT_BODY_BYTES = 9;
/** Flag bit 0 of a REPORT: `behind`. The other bits are reserved: sent as 0, ignored when read. */
const REPORT_FLAG_BEHIND = 0x01;
/** A loss fraction is carried in 1/10,000: finer than any decision the controller takes on it. */
export const REPORT_LOSS_SCALE = 10_000;

const reportBody: BodySpec<ReportPacket> = {
  type: 'report',
  bodyLength(m) {
    checkUint('report.intervalMs', m.intervalMs, 0xffff, 1);
    checkUint('report.lossPermyriad', m.lossPermyriad, REPORT_LOSS_SCALE);
    checkUint('report.receiveKbps', m.receiveKbps, U32_LIMIT - 1);
    if (typeof m.behind !== 'boolean') throw new PacketEncodeError('report.behind must be a boolean');
    return REPORT_BODY_BYTES;
  },
  write(view, _bytes, at, m) {
    view.setUint16(at, m.intervalMs);
    view.setUint16(at + 2, m.lossPermyriad);
    view.setUint32(at + 4, m.receiveKbps);
    view.setUint8(at + 8, m.behind ? REPORT_FLAG_BEHIND : 0);
  },
  read(view, _bytes, at, end, header) {
    // At least, not exactly: a later version appends fields, which this one ignores.
    if (end - at < REPORT_BODY_BYTES) return badLength('report', `${REPORT_BODY_BYTES} or more`, end - at);
    const intervalMs = view.getUint16(at);
    const lossPermyriad = view.getUint16(at + 2);
    if (intervalMs < 1) return badField('report', 'intervalMs must be at least 1');
    if (lossPermyriad > REPORT_LOSS_SCALE) return badField('report', `lossPermyriad ${lossPermyriad} is past ${REPORT_LOSS_SCALE}`);
    const behind = (view.getUint8(at + 8) & REPORT_FLAG_BEHIND) !== 0;
    return { ok: true, value: { ...header, type: 'report', intervalMs, lossPermyriad, receiveKbps: view.getUint32(at + 4), behind } };
  },
};

type SpecOf<T extends PacketType> = BodySpec<Extract<Packet, { type: T }>>;

const SPECS: { [T in PacketType]: SpecOf<T> } = {
  discover: rankBody<DiscoverPacket>('discover', 0),
  announce: { ...announceBody, signedCode: SIGNED_PACKET_TYPE_CODES.announce },
  claim: { ...rankBody<ClaimPacket>('claim', 1), signedCode: SIGNED_PACKET_TYPE_CODES.claim },
  join: countBody<JoinPacket>('join'),
  // A data symbol's index is below k, and k <= 255.
  data: symbolBody<DataPacket>('data', MAX_CODE_SYMBOLS - 2),
  // Parity index i is code symbol k + i <= 255 with k >= 1, so i <= 254.
  parity: symbolBody<ParityPacket>('parity', MAX_CODE_SYMBOLS - 2),
  nack: nackBody,
  done: countBody<DonePacket>('done'),
  'peer-have': peerHaveBody,
  report: reportBody,
};

const TYPE_BY_CODE = new Map<number, PacketType>([
  ...Object.entries(PACKET_TYPE_CODES).map(([type, code]) => [code, type as PacketType] as const),
  ...Object.entries(SIGNED_PACKET_TYPE_CODES).map(([type, code]) => [code, type as PacketType] as const),
]);

/** The claim proof of a message, when it carries one (only ANNOUNCE and CLAIM may: the encoder refuses others). */
function proofOf(message: Packet): ClaimProof | undefined {
  return 'proof' in message ? message.proof : undefined;
}

function checkProof(type: PacketType, proof: ClaimProof): void {
  if (!isHexId(proof.keyId, CONTROL_PLANE_KEY_ID_BYTES)) throw new PacketEncodeError(`${type}.proof.keyId must be ${CONTROL_PLANE_KEY_ID_BYTES * 2} lowercase hex characters`);
  if (!(proof.devicePublicKey instanceof Uint8Array) || proof.devicePublicKey.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new PacketEncodeError(`${type}.proof.devicePublicKey must be ${ED25519_PUBLIC_KEY_BYTES} bytes`);
  }
  checkUint(`${type}.proof.notAfter`, proof.notAfter, U32_LIMIT - 1);
  if (!(proof.ticketSignature instanceof Uint8Array) || proof.ticketSignature.length !== ED25519_SIGNATURE_BYTES) {
    throw new PacketEncodeError(`${type}.proof.ticketSignature must be ${ED25519_SIGNATURE_BYTES} bytes`);
  }
}

function encodeWith<P extends Packet>(spec: BodySpec<P>, message: P, tagger?: PacketTagger, signer?: ClaimSigner): Uint8Array {
  if (!isHexId(message.sessionId, SESSION_ID_BYTES)) throw new PacketEncodeError(`sessionId must be ${SESSION_ID_BYTES * 2} lowercase hex characters`);
  if (!isHexId(message.senderId, SENDER_ID_BYTES)) throw new PacketEncodeError(`senderId must be ${SENDER_ID_BYTES * 2} lowercase hex characters`);
  if (message.type !== spec.type) throw new PacketEncodeError(`a ${message.type} message handed to the ${spec.type} encoder`);
  const proof = proofOf(message);
  if (proof !== undefined) {
    if (spec.signedCode === undefined) throw new PacketEncodeError(`a ${spec.type} packet cannot carry a claim proof`);
    if (signer === undefined) throw new PacketEncodeError(`a ${spec.type} packet with a claim proof needs a signer`);
    checkProof(spec.type, proof);
  }
  const tagBytes = tagger === undefined ? 0 : AUTH_TAG_BYTES;
  const bodyLength = spec.bodyLength(message);
  const total = PACKET_OVERHEAD_BYTES + bodyLength + (proof === undefined ? 0 : CLAIM_PROOF_BYTES) + tagBytes;
  if (total > MAX_PACKET_BYTES) throw new PacketEncodeError(`${spec.type} packet of ${total} bytes is past ${MAX_PACKET_BYTES}`);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, PACKET_MAGIC);
  view.setUint8(2, tagger === undefined ? PROTOCOL_VERSION : AUTHENTICATED_PROTOCOL_VERSION);
  view.setUint8(3, proof === undefined ? PACKET_TYPE_CODES[spec.type] : (spec.signedCode as number));
  writeHex(bytes, 4, message.sessionId);
  writeHex(bytes, 4 + SESSION_ID_BYTES, message.senderId);
  spec.write(view, bytes, HEADER_BYTES, message);
  if (proof !== undefined) writeProof(bytes, view, HEADER_BYTES + bodyLength, proof, signer as ClaimSigner);
  return seal(bytes, view, tagger);
}

/** Lays out a claim proof at `at` and signs every byte before its signature with `signer`. */
function writeProof(bytes: Uint8Array, view: DataView, at: number, proof: ClaimProof, signer: ClaimSigner): void {
  writeHex(bytes, at, proof.keyId);
  bytes.set(proof.devicePublicKey, at + 8);
  view.setUint32(at + 40, proof.notAfter);
  bytes.set(proof.ticketSignature, at + 44);
  const signatureAt = at + CLAIM_PROOF_BYTES - ED25519_SIGNATURE_BYTES;
  const signature = signer(bytes.subarray(0, signatureAt));
  if (signature.length !== ED25519_SIGNATURE_BYTES) throw new PacketEncodeError(`the claim signer returned ${signature.length} bytes; ${ED25519_SIGNATURE_BYTES} are needed`);
  bytes.set(signature, signatureAt);
}

/** Reads the claim proof in [at, at + CLAIM_PROOF_BYTES): views into the datagram, no copies. */
function readProof(bytes: Uint8Array, view: DataView, at: number): ReceivedClaimProof {
  const signatureAt = at + CLAIM_PROOF_BYTES - ED25519_SIGNATURE_BYTES;
  return {
    keyId: bytesToHex(bytes, at, CONTROL_PLANE_KEY_ID_BYTES),
    devicePublicKey: bytes.subarray(at + 8, at + 40),
    notAfter: view.getUint32(at + 40),
    ticketSignature: bytes.subarray(at + 44, signatureAt),
    signature: bytes.subarray(signatureAt, at + CLAIM_PROOF_BYTES),
    signedBytes: bytes.subarray(0, signatureAt),
  };
}

/** Fills in a laid-out packet's trailer: the tag over header and body (when authenticated), then the CRC32C over the rest. */
function seal(bytes: Uint8Array, view: DataView, tagger: PacketTagger | undefined): Uint8Array {
  const total = bytes.length;
  if (tagger !== undefined) {
    const bodyEnd = total - TRAILER_BYTES - AUTH_TAG_BYTES;
    const tag = tagger(bytes.subarray(0, bodyEnd));
    if (tag.length < AUTH_TAG_BYTES) throw new PacketEncodeError(`the tagger returned ${tag.length} bytes; at least ${AUTH_TAG_BYTES} are needed`);
    bytes.set(tag.subarray(0, AUTH_TAG_BYTES), bodyEnd);
  }
  view.setUint32(total - TRAILER_BYTES, crc32c(bytes, 0, total - TRAILER_BYTES));
  return bytes;
}

interface Frame {
  type: PacketType | null;
  code: number;
  header: PacketHeader;
  view: DataView;
  /** Where the body ends: before the CRC, and before the tag in version 2. */
  bodyEnd: number;
}

/** Checks what every packet shares: length limits, magic, version, then the tag (version 2) or the CRC (version 1). Cheapest checks first. */
function readFrame(bytes: Uint8Array, tagger?: PacketTagger): DecodeResult<Frame> {
  if (!(bytes instanceof Uint8Array)) return decodeFailure(PacketErrorCode.Truncated, 'not a byte array');
  if (bytes.length < PACKET_OVERHEAD_BYTES) return decodeFailure(PacketErrorCode.Truncated, `${bytes.length} bytes is shorter than the ${PACKET_OVERHEAD_BYTES}-byte header and trailer`);
  if (bytes.length > MAX_PACKET_BYTES) return decodeFailure(PacketErrorCode.TooLong, `${bytes.length} bytes is past ${MAX_PACKET_BYTES}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0) !== PACKET_MAGIC) return decodeFailure(PacketErrorCode.BadMagic, 'magic is not "FC"');
  const version = view.getUint8(2);
  if (tagger === undefined) {
    if (version !== PROTOCOL_VERSION) return decodeFailure(PacketErrorCode.UnsupportedVersion, `version ${version}; without a session key this build speaks ${PROTOCOL_VERSION}`);
  } else if (version === PROTOCOL_VERSION) {
    // Checked before the CRC: a downgraded packet is an authentication failure, whatever else is wrong with it.
    return decodeFailure(PacketErrorCode.BadAuth, `version ${PROTOCOL_VERSION} carries no tag; this session requires version ${AUTHENTICATED_PROTOCOL_VERSION}`);
  } else if (version !== AUTHENTICATED_PROTOCOL_VERSION) {
    return decodeFailure(PacketErrorCode.UnsupportedVersion, `version ${version}; with a session key this build speaks ${AUTHENTICATED_PROTOCOL_VERSION}`);
  }
  const end = bytes.length - TRAILER_BYTES;
  const tagBytes = tagger === undefined ? 0 : AUTH_TAG_BYTES;
  if (end - tagBytes < HEADER_BYTES) return decodeFailure(PacketErrorCode.Truncated, `${bytes.length} bytes cannot hold the header, tag and trailer`);
  const bodyEnd = end - tagBytes;
  if (tagger === undefined) {
    if (view.getUint32(end) !== crc32c(bytes, 0, end)) return decodeFailure(PacketErrorCode.BadChecksum, 'CRC32C does not match');
  } else if (!tagMatches(tagger(bytes.subarray(0, bodyEnd)), bytes, bodyEnd)) {
    // Only a packet that fails its tag pays for the CRC, which tells damage in transit from a forgery.
    if (view.getUint32(end) !== crc32c(bytes, 0, end)) return decodeFailure(PacketErrorCode.BadChecksum, 'CRC32C does not match');
    return decodeFailure(PacketErrorCode.BadAuth, 'authentication tag does not match the session key');
  }
  // A matching tag makes the CRC redundant: the MAC covers every byte the CRC does but the tag
  // itself, which it has just matched. The CRC was a third of a receiver's per-packet CPU in
  // JavaScript (scripts/bench-receive-path.mjs); it is still sent, for version 1 and for telling
  // damage from forgery.
  const code = view.getUint8(3);
  return {
    ok: true,
    value: {
      type: TYPE_BY_CODE.get(code) ?? null,
      code,
      header: { sessionId: SESSION_IDS.read(bytes, 4), senderId: SENDER_IDS.read(bytes, 4 + SESSION_ID_BYTES) },
      view,
      bodyEnd,
    },
  };
}

/** The header IDs of the last datagram read: the next one of the same session and sender reuses the strings. */
const SESSION_IDS = new HexIdCache(SESSION_ID_BYTES);
const SENDER_IDS = new HexIdCache(SENDER_ID_BYTES);
/** Separate caches for the peeks, which see every datagram on the socket, ours and others'. */
const PEEKED_SESSION_IDS = new HexIdCache(SESSION_ID_BYTES);
const PEEKED_SENDER_IDS = new HexIdCache(SENDER_ID_BYTES);

/** Compares in time independent of where the bytes differ, so that timing reveals nothing about the tag. */
function tagMatches(expected: Uint8Array, bytes: Uint8Array, at: number): boolean {
  if (expected.length < AUTH_TAG_BYTES) return false;
  let difference = 0;
  for (let i = 0; i < AUTH_TAG_BYTES; i++) difference |= expected[i] ^ bytes[at + i];
  return difference === 0;
}

function decodeWith<P extends Packet>(spec: BodySpec<P>, bytes: Uint8Array, frame: Frame): DecodeResult<P> {
  if (spec.signedCode === undefined || frame.code !== spec.signedCode) return spec.read(frame.view, bytes, HEADER_BYTES, frame.bodyEnd, frame.header);
  const proofAt = frame.bodyEnd - CLAIM_PROOF_BYTES;
  if (proofAt < HEADER_BYTES) return badLength(spec.type, `the body and a ${CLAIM_PROOF_BYTES}-byte claim proof`, frame.bodyEnd - HEADER_BYTES);
  const result = spec.read(frame.view, bytes, HEADER_BYTES, proofAt, frame.header);
  if (!result.ok) return result;
  return { ok: true, value: { ...result.value, proof: readProof(bytes, frame.view, proofAt) } };
}

function codecOf<T extends PacketType>(type: T): PacketCodec<Extract<Packet, { type: T }>> {
  type P = Extract<Packet, { type: T }>;
  const spec = SPECS[type] as unknown as BodySpec<P>;
  return {
    type,
    code: PACKET_TYPE_CODES[type],
    encode: (message: P, tagger?: PacketTagger, signer?: ClaimSigner) => encodeWith(spec, message, tagger, signer),
    decode(bytes: Uint8Array, tagger?: PacketTagger): DecodeResult<P> {
      const frame = readFrame(bytes, tagger);
      if (!frame.ok) return frame;
      if (frame.value.type !== type) return decodeFailure(PacketErrorCode.WrongType, `expected ${type}, got type byte ${frame.value.code}`);
      return decodeWith(spec, bytes, frame.value);
    },
  };
}

export const discoverCodec = codecOf('discover');
export const announceCodec = codecOf('announce');
export const claimCodec = codecOf('claim');
export const joinCodec = codecOf('join');
export const dataCodec = codecOf('data');
export const parityCodec = codecOf('parity');
export const nackCodec = codecOf('nack');
export const doneCodec = codecOf('done');
export const peerHaveCodec = codecOf('peer-have');
export const reportCodec = codecOf('report');

/**
 * Encodes any packet by its `type`: version 1, or version 2 when the session's `tagger` is given.
 * An ANNOUNCE or CLAIM with a `proof` is encoded as its signed variant, signed with `signer`.
 */
export function encodePacket(packet: Packet, tagger?: PacketTagger, signer?: ClaimSigner): Uint8Array {
  return encodeWith(SPECS[packet.type] as unknown as BodySpec<Packet>, packet, tagger, signer);
}

/** Encodes the DATA and PARITY packets of one sender in one session (see `createSymbolEncoder`). */
export type SymbolEncoder = (type: 'data' | 'parity', block: number, group: number, index: number, payload: Uint8Array) => Uint8Array;

/**
 * The sender's per-symbol encoder: the same bytes as `encodePacket` for a DATA or PARITY packet,
 * with the header (magic, version, type, IDs) checked and laid out once per session rather than
 * once per packet. A session sends every symbol through it, so the per-packet work is the address,
 * one copy of the payload, the tag and the CRC.
 */
export function createSymbolEncoder(header: PacketHeader, tagger?: PacketTagger): SymbolEncoder {
  if (!isHexId(header.sessionId, SESSION_ID_BYTES)) throw new PacketEncodeError(`sessionId must be ${SESSION_ID_BYTES * 2} lowercase hex characters`);
  if (!isHexId(header.senderId, SENDER_ID_BYTES)) throw new PacketEncodeError(`senderId must be ${SENDER_ID_BYTES * 2} lowercase hex characters`);
  const prefix = new Uint8Array(HEADER_BYTES);
  const prefixView = new DataView(prefix.buffer);
  prefixView.setUint16(0, PACKET_MAGIC);
  prefixView.setUint8(2, tagger === undefined ? PROTOCOL_VERSION : AUTHENTICATED_PROTOCOL_VERSION);
  writeHex(prefix, 4, header.sessionId);
  writeHex(prefix, 4 + SESSION_ID_BYTES, header.senderId);
  const tagBytes = tagger === undefined ? 0 : AUTH_TAG_BYTES;
  const maxIndex = MAX_CODE_SYMBOLS - 2;
  return (type, block, group, index, payload) => {
    if (type !== 'data' && type !== 'parity') throw new PacketEncodeError(`a ${String(type)} packet handed to the symbol encoder`);
    checkUint(`${type}.block`, block, U32_LIMIT - 1);
    checkUint(`${type}.group`, group, 0xffff);
    checkUint(`${type}.index`, index, maxIndex);
    if (!(payload instanceof Uint8Array) || payload.length < 1 || payload.length > MAX_SYMBOL_BYTES) {
      throw new PacketEncodeError(`${type}.payload must be 1..${MAX_SYMBOL_BYTES} bytes`);
    }
    const total = PACKET_OVERHEAD_BYTES + SYMBOL_ADDRESS_BYTES + payload.length + tagBytes;
    if (total > MAX_PACKET_BYTES) throw new PacketEncodeError(`${type} packet of ${total} bytes is past ${MAX_PACKET_BYTES}`);
    const bytes = new Uint8Array(total);
    const view = new DataView(bytes.buffer);
    bytes.set(prefix, 0);
    bytes[3] = PACKET_TYPE_CODES[type];
    view.setUint32(HEADER_BYTES, block);
    view.setUint16(HEADER_BYTES + 4, group);
    bytes[HEADER_BYTES + 6] = index;
    bytes.set(payload, HEADER_BYTES + SYMBOL_ADDRESS_BYTES);
    return seal(bytes, view, tagger);
  };
}

/**
 * The sender ID of a datagram without decoding it (16 hex characters), or null when it is too
 * short or not ours. Lets the socket drop its own packets that multicast loopback hands back
 * before it spends a CRC and a MAC on them.
 */
export function peekSenderId(bytes: Uint8Array): string | null {
  if (bytes.length < PACKET_OVERHEAD_BYTES || bytes[0] !== PACKET_MAGIC >> 8 || bytes[1] !== (PACKET_MAGIC & 0xff)) return null;
  return PEEKED_SENDER_IDS.read(bytes, 4 + SESSION_ID_BYTES);
}

/**
 * Decodes a datagram of any type: what the receive loop calls. Never throws (a tagger that throws
 * is a bug in the caller and does). With the session's `tagger`, only authenticated packets with a
 * matching tag decode.
 */
export function decodePacket(bytes: Uint8Array, tagger?: PacketTagger): DecodeResult<Packet> {
  const frame = readFrame(bytes, tagger);
  if (!frame.ok) return frame;
  const { type, code } = frame.value;
  if (type === null) return decodeFailure(PacketErrorCode.UnknownType, `type byte ${code} is not defined in version ${PROTOCOL_VERSION}`);
  return decodeWith(SPECS[type] as unknown as BodySpec<Packet>, bytes, frame.value);
}

/**
 * The session ID of a datagram without decoding it, or null when it is too short or not ours. The
 * receive loop needs it first: the session picks the key that checks the packet's tag, so one
 * socket can carry sessions of several tasks, each under its own key.
 */
export function peekSessionId(bytes: Uint8Array): string | null {
  if (bytes.length < PACKET_OVERHEAD_BYTES || bytes[0] !== PACKET_MAGIC >> 8 || bytes[1] !== (PACKET_MAGIC & 0xff)) return null;
  return PEEKED_SESSION_IDS.read(bytes, 4);
}
