import { KeyObject, sign, verify } from 'node:crypto';
import { CanonicalWriter } from './assignment';
import { keyIdOf, Signed, SigningKeyPair } from './manifest';

/**
 * The control plane's word that a device may drop the content of deleted packages from its cache.
 * A device acts on it only when the signature verifies with a key it pins: an unauthenticated
 * message must never make a device delete anything.
 */
export interface ContentDeletionsDocument {
  /** The one device this notice is for. */
  deviceId: string;
  /** Content IDs (SHA-256, 64 lowercase hex characters) no package of the control plane uses any more. */
  contentIds: string[];
  issuedAt: string;
  /** A device does not act on a notice after this time (a replayed old notice changes nothing anyway: deletions are final). */
  expiresAt: string;
}

const DELETIONS_DOMAIN = Buffer.from('fleetcast-content-deletions-v1\0');
const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** Why a notice cannot be signed or verified as it is; null when it can. */
export function contentDeletionsShapeError(doc: ContentDeletionsDocument): string | null {
  if (doc.contentIds.some((id) => !HEX_SHA256.test(id))) return 'a content ID is not a SHA-256';
  for (const [name, value] of [['issuedAt', doc.issuedAt], ['expiresAt', doc.expiresAt]] as const) {
    if (!Number.isFinite(Date.parse(value))) return `${name} is not a time`;
  }
  if (Date.parse(doc.expiresAt) <= Date.parse(doc.issuedAt)) return 'expiresAt is not after issuedAt';
  return null;
}

/**
 * The bytes a notice's signature covers: a domain tag of its own (an assignment's signature can never
 * pass for a notice, nor the reverse), the key ID, then every field in a fixed order.
 */
export function contentDeletionsSigningBytes(doc: ContentDeletionsDocument, keyId: string): Buffer {
  const shape = contentDeletionsShapeError(doc);
  if (shape !== null) throw new RangeError(`content deletions cannot be signed: ${shape}`);
  return new CanonicalWriter().raw(DELETIONS_DOMAIN).string(keyId).string(doc.deviceId).strings(doc.contentIds).time(doc.issuedAt).time(doc.expiresAt).bytes();
}

export function signContentDeletions(doc: ContentDeletionsDocument, key: SigningKeyPair): Signed<ContentDeletionsDocument> {
  const signature = sign(null, contentDeletionsSigningBytes(doc, key.keyId), key.privateKey);
  return { value: doc, keyId: key.keyId, signature: new Uint8Array(signature) };
}

/** True when `publicKey` is the key the notice names and its signature covers the notice as it is. */
export function verifyContentDeletionsSignature(signed: Signed<ContentDeletionsDocument>, publicKey: KeyObject): boolean {
  if (contentDeletionsShapeError(signed.value) !== null) return false;
  if (signed.keyId !== keyIdOf(publicKey)) return false;
  try {
    return verify(null, contentDeletionsSigningBytes(signed.value, signed.keyId), publicKey, Buffer.from(signed.signature));
  } catch {
    return false;
  }
}
