import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { MANIFEST_BLOCK_SIZE } from './manifest';

/**
 * Confidential packages: the content is sealed block by block with AES-256-GCM under a key made for
 * the package, before it leaves the origin. A sealed block is exactly one manifest block (1 MiB), so
 * the manifest's block hashes are over the ciphertext and every path (origin, peers, multicast)
 * carries and verifies ciphertext as it does any content; only a device given the key opens it.
 *
 * Layout: plaintext block i (SEALED_PLAIN_BLOCK_SIZE bytes, the last one shorter) becomes
 * ciphertext || 16-byte GCM tag, so sealed block i is manifest block i. The nonce is the block
 * index (unique per block under a key that seals one content only); the additional data binds a
 * block to its package, its index and the block count, so a block moved, reordered, dropped off
 * the end or taken from another package fails its tag.
 */

/** The scheme's name as the key RPC reports it: a change of layout is a new name, never an edit. */
export const CONFIDENTIAL_SCHEME = 'aes-256-gcm-blocks-v1';

/** AES-256: 32 bytes. */
export const CONTENT_KEY_BYTES = 32;

/** GCM's full 128-bit tag (NIST SP 800-38D 5.2.1.2: shorter tags weaken authenticity). */
export const SEAL_TAG_BYTES = 16;

/** GCM's 96-bit nonce, the size it is defined for without an extra GHASH (SP 800-38D 8.2). */
const NONCE_BYTES = 12;

/** Plaintext per block: a sealed block (plaintext plus tag) is exactly one manifest block. */
export const SEALED_PLAIN_BLOCK_SIZE = MANIFEST_BLOCK_SIZE - SEAL_TAG_BYTES;

const BLOCK_AAD_DOMAIN = Buffer.from('fleetcast-confidential-block-v1\0');
const KEY_WRAP_DOMAIN = Buffer.from('fleetcast-content-key-wrap-v1\0');

/** What binds a sealed block to its place: the package, the block's index, and how many blocks there are. */
export interface SealContext {
  packageId: string;
  blockIndex: number;
  blockCount: number;
}

/** A block (or a wrapped key) that does not open: wrong key, altered bytes, or another place. */
export class ConfidentialBlockError extends Error {
  readonly code = 'CONTENT.SEALED_BLOCK_INVALID';
}

/** A fresh random content key. */
export function generateContentKey(): Buffer {
  return randomBytes(CONTENT_KEY_BYTES);
}

/** Blocks of sealed content for a plaintext of `plainSize` bytes: at least one, so that even empty content carries a tag. */
export function sealedBlockCount(plainSize: number): number {
  return Math.max(1, Math.ceil(plainSize / SEALED_PLAIN_BLOCK_SIZE));
}

/** Size of the sealed content of a plaintext of `plainSize` bytes. */
export function sealedSize(plainSize: number): number {
  return plainSize + sealedBlockCount(plainSize) * SEAL_TAG_BYTES;
}

/** Size of the plaintext inside sealed content of `size` bytes; null when no sealing gives that size. */
export function openedSize(size: number): number | null {
  if (!Number.isSafeInteger(size) || size < SEAL_TAG_BYTES) return null;
  const blocks = Math.ceil(size / MANIFEST_BLOCK_SIZE);
  const last = size - (blocks - 1) * MANIFEST_BLOCK_SIZE;
  if (last < SEAL_TAG_BYTES || (last === SEAL_TAG_BYTES && blocks > 1)) return null;
  return size - blocks * SEAL_TAG_BYTES;
}

function nonceOf(blockIndex: number): Buffer {
  const nonce = Buffer.alloc(NONCE_BYTES);
  nonce.writeBigUInt64BE(BigInt(blockIndex), NONCE_BYTES - 8);
  return nonce;
}

function aadOf(ctx: SealContext): Buffer {
  const id = Buffer.from(ctx.packageId, 'utf8');
  const fixed = Buffer.alloc(4 + 8 + 8);
  fixed.writeUInt32BE(id.length, 0);
  fixed.writeBigUInt64BE(BigInt(ctx.blockIndex), 4);
  fixed.writeBigUInt64BE(BigInt(ctx.blockCount), 12);
  return Buffer.concat([BLOCK_AAD_DOMAIN, fixed.subarray(0, 4), id, fixed.subarray(4)]);
}

function checkContext(ctx: SealContext): void {
  if (!Number.isSafeInteger(ctx.blockCount) || ctx.blockCount < 1) throw new RangeError(`block count ${ctx.blockCount} is not a positive integer`);
  if (!Number.isSafeInteger(ctx.blockIndex) || ctx.blockIndex < 0 || ctx.blockIndex >= ctx.blockCount) throw new RangeError(`block index ${ctx.blockIndex} is not in [0, ${ctx.blockCount})`);
}

function checkKey(key: Uint8Array): void {
  if (key.length !== CONTENT_KEY_BYTES) throw new RangeError(`a content key is ${CONTENT_KEY_BYTES} bytes, not ${key.length}`);
}

/** Seals one plaintext block: ciphertext followed by its tag. */
export function sealBlock(key: Uint8Array, ctx: SealContext, plain: Uint8Array): Buffer {
  checkKey(key);
  checkContext(ctx);
  if (plain.length > SEALED_PLAIN_BLOCK_SIZE) throw new RangeError(`a plaintext block is at most ${SEALED_PLAIN_BLOCK_SIZE} bytes, not ${plain.length}`);
  const cipher = createCipheriv('aes-256-gcm', key, nonceOf(ctx.blockIndex), { authTagLength: SEAL_TAG_BYTES });
  cipher.setAAD(aadOf(ctx));
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

/** Opens one sealed block; ConfidentialBlockError when its tag does not hold for this key and place. */
export function openBlock(key: Uint8Array, ctx: SealContext, sealed: Uint8Array): Buffer {
  checkKey(key);
  checkContext(ctx);
  if (sealed.length < SEAL_TAG_BYTES || sealed.length > MANIFEST_BLOCK_SIZE) {
    throw new ConfidentialBlockError(`sealed block ${ctx.blockIndex} has ${sealed.length} bytes: not a sealed block`);
  }
  const body = sealed.subarray(0, sealed.length - SEAL_TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonceOf(ctx.blockIndex), { authTagLength: SEAL_TAG_BYTES });
  decipher.setAAD(aadOf(ctx));
  decipher.setAuthTag(sealed.subarray(sealed.length - SEAL_TAG_BYTES));
  const out = decipher.update(body);
  try {
    return Buffer.concat([out, decipher.final()]);
  } catch {
    throw new ConfidentialBlockError(`sealed block ${ctx.blockIndex} of package ${ctx.packageId} does not open: wrong key, or the block was altered or moved`);
  }
}

/**
 * Wraps a content key for storage under a key of the control plane's (AES-256-GCM, random nonce:
 * a wrapping key wraps many content keys), bound to its package so a wrapped key copied to another
 * row does not open. Layout: nonce (12) || ciphertext (32) || tag (16).
 */
export function wrapContentKey(wrappingKey: Uint8Array, packageId: string, contentKey: Uint8Array): Buffer {
  checkKey(wrappingKey);
  checkKey(contentKey);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', wrappingKey, nonce, { authTagLength: SEAL_TAG_BYTES });
  cipher.setAAD(Buffer.concat([KEY_WRAP_DOMAIN, Buffer.from(packageId, 'utf8')]));
  return Buffer.concat([nonce, cipher.update(contentKey), cipher.final(), cipher.getAuthTag()]);
}

export function unwrapContentKey(wrappingKey: Uint8Array, packageId: string, wrapped: Uint8Array): Buffer {
  checkKey(wrappingKey);
  if (wrapped.length !== NONCE_BYTES + CONTENT_KEY_BYTES + SEAL_TAG_BYTES) throw new ConfidentialBlockError(`a wrapped key is ${NONCE_BYTES + CONTENT_KEY_BYTES + SEAL_TAG_BYTES} bytes, not ${wrapped.length}`);
  const decipher = createDecipheriv('aes-256-gcm', wrappingKey, wrapped.subarray(0, NONCE_BYTES), { authTagLength: SEAL_TAG_BYTES });
  decipher.setAAD(Buffer.concat([KEY_WRAP_DOMAIN, Buffer.from(packageId, 'utf8')]));
  decipher.setAuthTag(wrapped.subarray(NONCE_BYTES + CONTENT_KEY_BYTES));
  const out = decipher.update(wrapped.subarray(NONCE_BYTES, NONCE_BYTES + CONTENT_KEY_BYTES));
  try {
    return Buffer.concat([out, decipher.final()]);
  } catch {
    throw new ConfidentialBlockError(`the content key of package ${packageId} does not unwrap: another wrapping key, or altered`);
  }
}
