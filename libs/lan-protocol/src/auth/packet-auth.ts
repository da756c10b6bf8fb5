import crypto, { createHash, createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { AUTH_TAG_BYTES, MAX_PACKET_BYTES } from '../protocol/constants';
import type { PacketTagger } from '../protocol/packets';
import { SHA256_INITIAL_STATE, loadBlock, sha256Compress } from './sha256-block';

/**
 * Packet authentication for a session: HMAC-SHA-256 under the task's LAN key, truncated to
 * AUTH_TAG_BYTES by the codec. The key is per task and reaches devices with the task over NATS
 * (authenticated, encrypted), never over the LAN, so a host on the subnet that lacks it cannot make
 * a packet the session accepts; each forged packet is dropped and counted as PACKET.BAD_AUTH.
 *
 * It sits outside `protocol/` because it needs node:crypto; the codec takes the result as a plain
 * function. Every device of the task holds the same key, so a device of the task could still forge
 * for the others: blocks are still verified against the signed manifest before they are accepted.
 */

/**
 * Shortest key accepted: 128 bits, the tag's own strength (RFC 2104 3: a key shorter than the hash
 * output weakens it; 32 bytes is what `generateLanKey` makes).
 */
export const MIN_LAN_KEY_BYTES = 16;
/** Size of a generated key: the SHA-256 output length (RFC 2104 3 recommends at least that). */
export const LAN_KEY_BYTES = 32;

export class LanKeyError extends Error {
  readonly code = 'LAN_AUTH.INVALID_KEY';

  constructor(message: string) {
    super(message);
    this.name = 'LanKeyError';
  }
}

/** A fresh random key for one task (what the control plane makes when it creates a multicast task). */
export function generateLanKey(): Uint8Array {
  return new Uint8Array(randomBytes(LAN_KEY_BYTES));
}

/** SHA-256's block size: HMAC pads its key to it (RFC 2104 2). */
const SHA256_BLOCK_BYTES = 64;
const SHA256_BYTES = 32;
/** Room for the longest packet after the inner pad. */
const INNER_BUFFER_BYTES = SHA256_BLOCK_BYTES + MAX_PACKET_BYTES;

/** Node's one-shot digest (`crypto.hash`, Node 20.12 and 21.7 on), where the runtime has it. */
type OneShotHash = (algorithm: string, data: Uint8Array, outputEncoding: 'buffer') => Buffer;
const oneShotHash = (crypto as unknown as { hash?: OneShotHash }).hash;

/**
 * The tagger of a session keyed with `key`: pass it to `encodePacket` / `decodePacket`.
 *
 * HMAC-SHA-256 exactly (RFC 2104: H((K ^ opad) || H((K ^ ipad) || m))), the same tag as
 * `createHmac`, computed more cheaply where the runtime has `crypto.hash`: the inner hash is one
 * native one-shot digest over a buffer holding the key's inner pad, laid out once per session; the
 * outer hash starts from the state after the key's outer pad, folded once per session, and
 * compresses its one remaining block in JavaScript (sha256-block.ts). Every packet of a session is
 * tagged or checked, and on a 1,431-byte packet an Hmac object's set-up (key schedule, OpenSSL
 * context, stream object) and a second native call cost more than hashing the bytes: HMAC was a
 * third of a receiver's CPU (scripts/bench-receive-path.mjs, docs/benchmarks.md).
 */
export function createPacketTagger(key: Uint8Array): PacketTagger {
  if (!(key instanceof Uint8Array) || key.length < MIN_LAN_KEY_BYTES) {
    throw new LanKeyError(`a LAN key must be at least ${MIN_LAN_KEY_BYTES} bytes`);
  }
  if (oneShotHash === undefined) return hmacObjectTagger(key);
  // A key longer than the block is hashed first (RFC 2104 2); shorter ones are zero-padded.
  const block = new Uint8Array(SHA256_BLOCK_BYTES);
  block.set(key.length > SHA256_BLOCK_BYTES ? createHash('sha256').update(key).digest() : key);
  // The pads are the tagger's own copies: a caller reusing its buffer cannot change the key under a running session.
  const inner = Buffer.alloc(INNER_BUFFER_BYTES);
  const outerPad = new Uint8Array(SHA256_BLOCK_BYTES);
  for (let i = 0; i < SHA256_BLOCK_BYTES; i++) {
    inner[i] = block[i] ^ 0x36;
    outerPad[i] = block[i] ^ 0x5c;
  }
  const words = new Uint32Array(64);
  const outerStart = Uint32Array.from(SHA256_INITIAL_STATE);
  loadBlock(words, outerPad, 0);
  sha256Compress(outerStart, words);
  const state = new Uint32Array(8);
  const hash = oneShotHash;
  return (bytes: Uint8Array) => {
    if (bytes.length > MAX_PACKET_BYTES) return hmacObjectTagger(key)(bytes);
    inner.set(bytes, SHA256_BLOCK_BYTES);
    const innerDigest = hash('sha256', inner.subarray(0, SHA256_BLOCK_BYTES + bytes.length), 'buffer');
    // The outer hash's last block: the inner digest, the 0x80 pad byte, zeros, and the bit length
    // of pad and digest (96 bytes = 768 bits) in its last word (FIPS 180-4 5.1.1).
    loadBlock(words, innerDigest, 0, SHA256_BYTES / 4);
    words[8] = 0x80000000;
    words.fill(0, 9, 15);
    words[15] = (SHA256_BLOCK_BYTES + SHA256_BYTES) * 8;
    state.set(outerStart);
    sha256Compress(state, words);
    const tag = new Uint8Array(SHA256_BYTES);
    for (let i = 0; i < 8; i++) {
      const v = state[i];
      tag[i * 4] = v >>> 24;
      tag[i * 4 + 1] = (v >>> 16) & 0xff;
      tag[i * 4 + 2] = (v >>> 8) & 0xff;
      tag[i * 4 + 3] = v & 0xff;
    }
    return tag;
  };
}

/** HMAC through Node's Hmac objects: runtimes without `crypto.hash`, and inputs past the packet limit. */
function hmacObjectTagger(key: Uint8Array): PacketTagger {
  // A key object holds its own copy, so a caller reusing its buffer cannot change the key under a
  // running session; it also spares createHmac a conversion of the key per packet.
  const secret = createSecretKey(Buffer.from(key));
  return (bytes: Uint8Array) => createHmac('sha256', secret).update(bytes).digest().subarray(0, AUTH_TAG_BYTES);
}
