import { createHash, KeyObject, sign, verify } from 'node:crypto';
import { keyIdOf, Manifest, manifestSigningBytes, publicKeyFromDer, Signed, SigningKeyPair } from './manifest';

/**
 * What a device may execute for a task, signed by the control plane. Everything an agent acts on
 * (the command, its arguments, which content, for which device, when) is in here; nothing outside
 * the document decides what runs.
 */
export interface AssignmentDocument {
  taskId: string;
  /** The one device this assignment is for. */
  deviceId: string;
  /** `install` or `cache-only`. */
  action: string;
  package: {
    /** SHA-256 of the content, 64 lowercase hex characters. */
    contentId: string;
    size: number;
    /**
     * SHA-256 (hex) of the manifest's signing bytes (`manifestHash`): binds the assignment to one
     * exact manifest, whichever key signed that manifest.
     */
    manifestHash: string;
    installCommand: string;
    installArgs: string[];
    successExitCodes: number[];
    timeoutSeconds: number;
    /** True for a confidential package: the content is sealed (see confidential.ts); absent otherwise. */
    confidential?: true;
  };
  /** When the control plane signed this copy (ISO 8601). */
  issuedAt: string;
  /** The device must not act on it before this time: the task's start. */
  notBefore: string;
  /** Nor after this one. */
  expiresAt: string;
  /** Control-plane keys retired when this was signed: a device that accepts it stops trusting them. */
  retiredKeyIds: string[];
  /** The device's attempt at the task after a retry (2 and up); absent for the first. */
  attempt?: number;
}

/** A task cancelled for one device, signed by the control plane (see the contracts' cancellation document). */
export interface CancellationDocument {
  taskId: string;
  deviceId: string;
  /** When the control plane signed this copy (ISO 8601). */
  issuedAt: string;
  retiredKeyIds: string[];
}

/**
 * A control-plane key vouched for by an older one: how a device that pins the older key comes to
 * trust the newer one without fetching anything unauthenticated.
 */
export interface KeyEndorsement {
  /** ID of the endorsed key (`keyIdOf` its public key). */
  keyId: string;
  /** The endorsed key, SPKI DER. */
  publicKeyDer: Uint8Array;
  /** ID of the key that signed this endorsement. */
  endorsedBy: string;
  /** The endorsement holds from this time (ISO 8601) ... */
  notBefore: string;
  /** ... until this one. A device that was offline longer than that must be enrolled again. */
  expiresAt: string;
  signature: Uint8Array;
}

const ASSIGNMENT_DOMAIN = Buffer.from('fleetcast-assignment-v1\0');
const CONFIDENTIAL_TRAILER = 'confidential';
const ENDORSEMENT_DOMAIN = Buffer.from('fleetcast-key-endorsement-v1\0');
const CANCELLATION_DOMAIN = Buffer.from('fleetcast-cancellation-v1\0');
const HEX_SHA256 = /^[0-9a-f]{64}$/;
const UINT32_MAX = 0xffff_ffff;
const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

/** SHA-256 (hex) of a manifest's signing bytes: what an assignment names as `manifestHash`. */
export function manifestHash(manifest: Manifest): string {
  return createHash('sha256').update(manifestSigningBytes(manifest)).digest('hex');
}

/** The public half of a key as the contracts carry it (SPKI DER). */
export function publicKeyDerOf(publicKey: KeyObject): Uint8Array {
  return new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
}

/** Why a document cannot be signed or verified as it is; null when it can. */
export function assignmentShapeError(doc: AssignmentDocument): string | null {
  const p = doc.package;
  if (!HEX_SHA256.test(p.contentId)) return 'content ID is not a SHA-256';
  if (!HEX_SHA256.test(p.manifestHash)) return 'manifest hash is not a SHA-256';
  if (!Number.isSafeInteger(p.size) || p.size < 0) return 'size is not a non-negative integer';
  if (!Number.isInteger(p.timeoutSeconds) || p.timeoutSeconds < 1 || p.timeoutSeconds > UINT32_MAX) return 'timeout is not a positive 32-bit integer';
  if (p.successExitCodes.some((c) => !Number.isInteger(c) || c < INT32_MIN || c > INT32_MAX)) return 'a success exit code is not a 32-bit integer';
  for (const [name, value] of [['issuedAt', doc.issuedAt], ['notBefore', doc.notBefore], ['expiresAt', doc.expiresAt]] as const) {
    if (!Number.isFinite(Date.parse(value))) return `${name} is not a time`;
  }
  if (Date.parse(doc.expiresAt) <= Date.parse(doc.notBefore)) return 'expiresAt is not after notBefore';
  if (p.confidential !== undefined && p.confidential !== true) return 'confidential is neither true nor absent';
  if (doc.attempt !== undefined && (!Number.isInteger(doc.attempt) || doc.attempt < 2 || doc.attempt > UINT32_MAX)) return 'attempt is not an integer of 2 or more';
  return null;
}

/**
 * The exact bytes an assignment's signature covers: a domain tag (so no other signed object of the
 * control plane can pass for an assignment), the signing key's ID, then every field in a fixed
 * order. Strings are UTF-8 behind a 32-bit length, lists a 32-bit count, integers fixed-width
 * big-endian, times 64-bit milliseconds since the epoch. Any change to any field changes these bytes.
 * Throws on a document that `assignmentShapeError` refuses.
 */
export function assignmentSigningBytes(doc: AssignmentDocument, keyId: string): Buffer {
  const shape = assignmentShapeError(doc);
  if (shape !== null) throw new RangeError(`assignment cannot be signed: ${shape}`);
  const p = doc.package;
  const writer = new CanonicalWriter()
    .raw(ASSIGNMENT_DOMAIN)
    .string(keyId)
    .string(doc.taskId)
    .string(doc.deviceId)
    .string(doc.action)
    .string(p.contentId)
    .u64(p.size)
    .string(p.manifestHash)
    .string(p.installCommand)
    .strings(p.installArgs)
    .list(p.successExitCodes, (w, c) => w.i32(c))
    .u32(p.timeoutSeconds)
    .time(doc.issuedAt)
    .time(doc.notBefore)
    .time(doc.expiresAt)
    .strings(doc.retiredKeyIds);
  // Only after a retry: a first attempt's bytes are those that agents before retries verify.
  if (doc.attempt !== undefined) writer.u32(doc.attempt);
  // Only for a confidential package, after the attempt: the other documents keep their bytes. The
  // trailers differ in length (4 bytes for an attempt, 16 for this tag), so no two documents share bytes.
  if (p.confidential === true) writer.string(CONFIDENTIAL_TRAILER);
  return writer.bytes();
}

export function signAssignment(doc: AssignmentDocument, key: SigningKeyPair): Signed<AssignmentDocument> {
  const signature = sign(null, assignmentSigningBytes(doc, key.keyId), key.privateKey);
  return { value: doc, keyId: key.keyId, signature: new Uint8Array(signature) };
}

/** True when `publicKey` is the key the assignment names and its signature covers the document as it is. */
export function verifyAssignmentSignature(signed: Signed<AssignmentDocument>, publicKey: KeyObject): boolean {
  if (assignmentShapeError(signed.value) !== null) return false;
  if (signed.keyId !== keyIdOf(publicKey)) return false;
  return verify(null, assignmentSigningBytes(signed.value, signed.keyId), publicKey, Buffer.from(signed.signature));
}

/**
 * The exact bytes a cancellation's signature covers, encoded as an assignment's are, under a domain
 * tag of its own: neither can be made to pass for the other.
 */
export function cancellationSigningBytes(doc: CancellationDocument, keyId: string): Buffer {
  if (!Number.isFinite(Date.parse(doc.issuedAt))) throw new RangeError('cancellation cannot be signed: issuedAt is not a time');
  return new CanonicalWriter().raw(CANCELLATION_DOMAIN).string(keyId).string(doc.taskId).string(doc.deviceId).time(doc.issuedAt).strings(doc.retiredKeyIds).bytes();
}

export function signCancellation(doc: CancellationDocument, key: SigningKeyPair): Signed<CancellationDocument> {
  const signature = sign(null, cancellationSigningBytes(doc, key.keyId), key.privateKey);
  return { value: doc, keyId: key.keyId, signature: new Uint8Array(signature) };
}

/** True when `publicKey` is the key the cancellation names and its signature covers the document as it is. */
export function verifyCancellationSignature(signed: Signed<CancellationDocument>, publicKey: KeyObject): boolean {
  if (!Number.isFinite(Date.parse(signed.value.issuedAt))) return false;
  if (signed.keyId !== keyIdOf(publicKey)) return false;
  try {
    return verify(null, cancellationSigningBytes(signed.value, signed.keyId), publicKey, Buffer.from(signed.signature));
  } catch {
    return false;
  }
}

/** The bytes an endorsement's signature covers (same encoding as an assignment's). */
export function endorsementSigningBytes(e: Omit<KeyEndorsement, 'signature'>): Buffer {
  for (const [name, value] of [['notBefore', e.notBefore], ['expiresAt', e.expiresAt]] as const) {
    if (!Number.isFinite(Date.parse(value))) throw new RangeError(`endorsement cannot be signed: ${name} is not a time`);
  }
  return new CanonicalWriter()
    .raw(ENDORSEMENT_DOMAIN)
    .string(e.keyId)
    .blob(e.publicKeyDer)
    .string(e.endorsedBy)
    .time(e.notBefore)
    .time(e.expiresAt)
    .bytes();
}

/** `signer` vouches for `endorsed` from `notBefore` to `expiresAt`. */
export function signEndorsement(endorsed: KeyObject, signer: SigningKeyPair, window: { notBefore: Date; expiresAt: Date }): KeyEndorsement {
  const body = {
    keyId: keyIdOf(endorsed),
    publicKeyDer: publicKeyDerOf(endorsed),
    endorsedBy: signer.keyId,
    notBefore: window.notBefore.toISOString(),
    expiresAt: window.expiresAt.toISOString(),
  };
  return { ...body, signature: new Uint8Array(sign(null, endorsementSigningBytes(body), signer.privateKey)) };
}

/**
 * True when `signerPublicKey` is the key the endorsement names as its signer, the endorsed key is an
 * Ed25519 key whose ID is the one named, and the signature holds. The time window is the caller's
 * to check (time is a parameter of the caller's decision, not read here).
 */
export function verifyEndorsement(e: KeyEndorsement, signerPublicKey: KeyObject): boolean {
  if (e.endorsedBy !== keyIdOf(signerPublicKey)) return false;
  let endorsed: KeyObject;
  try {
    endorsed = publicKeyFromDer(e.publicKeyDer);
  } catch {
    return false;
  }
  if (endorsed.asymmetricKeyType !== 'ed25519' || keyIdOf(endorsed) !== e.keyId) return false;
  try {
    return verify(null, endorsementSigningBytes(e), signerPublicKey, Buffer.from(e.signature));
  } catch {
    return false;
  }
}

/** Builds canonical bytes field by field; every write is fixed-width or length-prefixed (shared by every signed document). */
export class CanonicalWriter {
  private readonly parts: Buffer[] = [];

  raw(bytes: Uint8Array): this {
    this.parts.push(Buffer.from(bytes));
    return this;
  }

  u32(n: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n, 0);
    return this.raw(b);
  }

  i32(n: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n, 0);
    return this.raw(b);
  }

  u64(n: number): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(n), 0);
    return this.raw(b);
  }

  time(iso: string): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(Date.parse(iso)), 0);
    return this.raw(b);
  }

  blob(bytes: Uint8Array): this {
    return this.u32(bytes.length).raw(bytes);
  }

  string(s: string): this {
    return this.blob(Buffer.from(s, 'utf8'));
  }

  strings(items: readonly string[]): this {
    return this.list(items, (w, s) => w.string(s));
  }

  list<T>(items: readonly T[], write: (w: this, item: T) => void): this {
    this.u32(items.length);
    for (const item of items) write(this, item);
    return this;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}
