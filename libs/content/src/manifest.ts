import { createHash, createPrivateKey, createPublicKey, sign, verify, KeyObject, generateKeyPairSync } from 'node:crypto';

/**
 * Block size of every package manifest: 1 MiB.
 * A 2 GiB package has 2,048 blocks, so its manifest (32 bytes a block) stays near 64 KiB and fits one
 * NATS message (default max payload 1 MiB); past 20 GiB a manifest travels in pages
 * (`MANIFEST_PAGE_BLOCKS`, `assembleManifestPages`). A block lost on the LAN costs at most 1 MiB to
 * fetch again from a peer.
 */
export const MANIFEST_BLOCK_SIZE = 1024 * 1024;
export const SHA256_BYTES = 32;

/** A package manifest: what a device verifies every block against, whatever its source. */
export interface Manifest {
  contentId: string;
  size: number;
  blockSize: number;
  /** SHA-256 of each block, concatenated (blockCount x 32 bytes). */
  blockHashes: Uint8Array;
}

export interface Signed<T> {
  value: T;
  keyId: string;
  signature: Uint8Array;
}

export function blockCount(size: number, blockSize: number): number {
  return size === 0 ? 0 : Math.ceil(size / blockSize);
}

/** Byte range [start, end) of block `index`. */
export function blockRange(manifest: Pick<Manifest, 'size' | 'blockSize'>, index: number): { start: number; end: number } {
  const start = index * manifest.blockSize;
  return { start, end: Math.min(start + manifest.blockSize, manifest.size) };
}

export function blockHashAt(manifest: Manifest, index: number): Uint8Array {
  return manifest.blockHashes.subarray(index * SHA256_BYTES, (index + 1) * SHA256_BYTES);
}

export function verifyBlock(manifest: Manifest, index: number, data: Uint8Array): boolean {
  const expected = blockHashAt(manifest, index);
  if (expected.length !== SHA256_BYTES) return false;
  const { start, end } = blockRange(manifest, index);
  if (data.length !== end - start) return false;
  const sealed = SEALED.get(data);
  if (sealed !== undefined && Buffer.from(sealed).equals(Buffer.from(expected))) return true;
  return Buffer.from(createHash('sha256').update(data).digest()).equals(Buffer.from(expected));
}

/**
 * Blocks verified by `verifyAndSealBlock`, with the hash they matched: a later `verifyBlock` of the
 * same bytes object against the same hash answers without hashing it again. Weak, so a sealed
 * block is forgotten with its bytes.
 */
const SEALED = new WeakMap<Uint8Array, Uint8Array>();

/**
 * `verifyBlock` for bytes the caller made for this block alone and hands on read-only (the multicast
 * receiver's assembled block): a match is remembered for this bytes object, so the content cache's
 * own check before it writes the block (`writeBlock`) does not hash the same MiB again. A receiver
 * hashed every block twice, about 0.7 ms of CPU a MiB each here. Never for a buffer that is reused
 * or filled again (a read buffer): its next contents would pass unhashed.
 */
export function verifyAndSealBlock(manifest: Manifest, index: number, data: Uint8Array): boolean {
  if (!verifyBlock(manifest, index, data)) return false;
  SEALED.set(data, Uint8Array.from(blockHashAt(manifest, index)));
  return true;
}

const MANIFEST_DOMAIN = Buffer.from('fleetcast-manifest-v1\0');

/**
 * The exact bytes that are signed: a domain tag, the content ID, size and block size as fixed-width
 * integers, then the block hashes. Any change to any field changes these bytes.
 */
export function manifestSigningBytes(manifest: Manifest): Buffer {
  const header = Buffer.alloc(8 + 4);
  header.writeBigUInt64BE(BigInt(manifest.size), 0);
  header.writeUInt32BE(manifest.blockSize, 8);
  return Buffer.concat([MANIFEST_DOMAIN, Buffer.from(manifest.contentId, 'hex'), header, manifest.blockHashes]);
}

/** Checks that a manifest is self-consistent (hash count matches size and block size). */
export function manifestShapeError(manifest: Manifest): string | null {
  if (!/^[0-9a-f]{64}$/.test(manifest.contentId)) return 'content ID is not a SHA-256';
  if (!Number.isSafeInteger(manifest.size) || manifest.size < 0) return 'size is not a non-negative integer';
  if (!Number.isInteger(manifest.blockSize) || manifest.blockSize <= 0) return 'block size is not positive';
  const expected = blockCount(manifest.size, manifest.blockSize) * SHA256_BYTES;
  if (manifest.blockHashes.length !== expected) {
    return `expected ${expected / SHA256_BYTES} block hashes, got ${manifest.blockHashes.length / SHA256_BYTES}`;
  }
  return null;
}

export interface SigningKeyPair {
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** Key ID: the first 16 hex characters of the SHA-256 of the DER public key. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

export function generateSigningKey(): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { keyId: keyIdOf(publicKey), privateKey, publicKey };
}

/** Loads an Ed25519 private key from PEM (PKCS#8). */
export function loadSigningKey(pem: string): SigningKeyPair {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`signing key must be Ed25519, got ${privateKey.asymmetricKeyType}`);
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), privateKey, publicKey };
}

export function exportPrivateKeyPem(key: SigningKeyPair): string {
  return key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function publicKeyFromDer(der: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
}

export function signManifest(manifest: Manifest, key: SigningKeyPair): Signed<Manifest> {
  const signature = sign(null, manifestSigningBytes(manifest), key.privateKey);
  return { value: manifest, keyId: key.keyId, signature: new Uint8Array(signature) };
}

export function verifyManifestSignature(signed: Signed<Manifest>, publicKey: KeyObject): boolean {
  if (manifestShapeError(signed.value) !== null) return false;
  if (signed.keyId !== keyIdOf(publicKey)) return false;
  return verify(null, manifestSigningBytes(signed.value), publicKey, Buffer.from(signed.signature));
}
