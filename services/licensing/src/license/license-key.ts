import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign, verify } from 'node:crypto';
import { z } from 'zod';
import { idSchema, isoTimeSchema } from '@fleetcast/contracts';

/**
 * License keys: `FCL1.<base64url payload>.<base64url signature>`, where the payload is the canonical
 * JSON of a {@link LicensePayload} and the signature is Ed25519 over exactly those payload bytes.
 * Pure functions over text, bytes and keys; no I/O, and time is a parameter.
 */

/** Version tag of the key format: a change of payload or signature scheme is FCL2, never an edit. */
export const LICENSE_KEY_PREFIX = 'FCL1';

/** Ed25519 signatures are 64 bytes (RFC 8032, section 5.1.6). */
const ED25519_SIGNATURE_BYTES = 64;

/** Most seats one license sells: far above any fleet, low enough that sums stay exact integers. */
export const MAX_LICENSE_SEATS = 10_000_000;

export const licensePayloadSchema = z
  .object({
    licenseId: idSchema,
    customer: z.string().min(1).max(200),
    seats: z.number().int().min(1).max(MAX_LICENSE_SEATS),
    issuedAt: isoTimeSchema,
    expiresAt: isoTimeSchema,
    features: z.array(z.string().min(1).max(64)).max(100),
  })
  .strict()
  .refine((p) => Date.parse(p.expiresAt) > Date.parse(p.issuedAt), { message: 'expiresAt must be after issuedAt', path: ['expiresAt'] });

/** What a license grants; the signed document. */
export type LicensePayload = z.infer<typeof licensePayloadSchema>;

/** Why a key is refused: `expired` has a code of its own (LICENSING.LICENSE_EXPIRED), the others are LICENSING.LICENSE_INVALID. */
export type LicenseRejection = 'malformed' | 'bad-signature' | 'bad-payload' | 'expired';

export type LicenseVerification =
  | { ok: true; license: LicensePayload }
  | { ok: false; reason: LicenseRejection; message: string; license?: LicensePayload };

/**
 * The canonical JSON of a payload: keys sorted at every level, no whitespace. Signer and verifier
 * agree on the bytes whatever order an issuer built the object in, and one license has one key text.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Signs a payload into key text. The payload is validated first: an issuer never emits a key the verifier refuses. */
export function signLicense(payload: LicensePayload, privateKey: KeyObject): string {
  const checked = licensePayloadSchema.parse(payload);
  const bytes = Buffer.from(canonicalJson(checked), 'utf8');
  const signature = sign(null, bytes, privateKey);
  return `${LICENSE_KEY_PREFIX}.${bytes.toString('base64url')}.${signature.toString('base64url')}`;
}

/**
 * Verifies key text against the public key and reads its payload. Checked in this order, so each
 * refusal names the first thing wrong: the text's form, the signature (a changed payload or
 * signature, or a key signed by another private key, all end here), the payload's shape and
 * canonical form, and last the expiry (`now` >= expiresAt). Whitespace anywhere is ignored: keys
 * travel in e-mails and terminals that wrap lines.
 */
export function verifyLicenseKey(text: string, publicKey: KeyObject, now: Date): LicenseVerification {
  const compact = text.replace(/\s+/g, '');
  const parts = compact.split('.');
  if (parts.length !== 3 || parts[0] !== LICENSE_KEY_PREFIX) {
    return { ok: false, reason: 'malformed', message: `not a license key: expected ${LICENSE_KEY_PREFIX}.<payload>.<signature>` };
  }
  const payloadBytes = fromBase64Url(parts[1]!);
  const signature = fromBase64Url(parts[2]!);
  if (!payloadBytes || payloadBytes.length === 0) return { ok: false, reason: 'malformed', message: 'the payload part is not base64url' };
  if (!signature || signature.length !== ED25519_SIGNATURE_BYTES) {
    return { ok: false, reason: 'malformed', message: `the signature part is not ${ED25519_SIGNATURE_BYTES} bytes of base64url` };
  }
  if (!verify(null, payloadBytes, publicKey, signature)) {
    return {
      ok: false,
      reason: 'bad-signature',
      message: 'the signature does not match: the key was altered, or it was signed by another issuer than the configured public key trusts',
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(payloadBytes.toString('utf8'));
  } catch {
    return { ok: false, reason: 'bad-payload', message: 'the signed payload is not JSON' };
  }
  const parsed = licensePayloadSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return { ok: false, reason: 'bad-payload', message: `the signed payload is not a license: ${problems}` };
  }
  if (canonicalJson(parsed.data) !== payloadBytes.toString('utf8')) {
    return { ok: false, reason: 'bad-payload', message: 'the signed payload is not in canonical form' };
  }
  const license = parsed.data;
  if (now.getTime() >= Date.parse(license.expiresAt)) {
    return { ok: false, reason: 'expired', message: `license ${license.licenseId} of ${license.customer} expired at ${license.expiresAt}`, license };
  }
  return { ok: true, license };
}

/** Strict base64url: Node's decoder skips characters it does not know, which would let altered text through unnoticed. */
function fromBase64Url(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

/** Reads an Ed25519 public key given as a PEM block or as base64 of its DER (SubjectPublicKeyInfo). */
export function parsePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    key = trimmed.includes('-----BEGIN')
      ? createPublicKey(trimmed)
      : createPublicKey({ key: Buffer.from(trimmed.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' });
  } catch (error) {
    throw new Error(`not a public key in PEM or base64 DER (${(error as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`an Ed25519 key is needed, this one is ${key.asymmetricKeyType}`);
  return key;
}

/** Reads an Ed25519 private key from text holding a PKCS#8 PEM block (other lines around it are ignored). */
export function parsePrivateKey(text: string): KeyObject {
  const block = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(text)?.[0];
  if (!block) throw new Error('no "BEGIN PRIVATE KEY" PEM block found');
  const key = createPrivateKey(block);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`an Ed25519 key is needed, this one is ${key.asymmetricKeyType}`);
  return key;
}

export interface LicenseKeyPair {
  /** PKCS#8 PEM: what `issue --private-key` reads. */
  privateKeyPem: string;
  /** Base64 of the SubjectPublicKeyInfo DER: what LICENSE_PUBLIC_KEY takes. */
  publicKeyBase64: string;
}

export function generateLicenseKeyPair(): LicenseKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyBase64: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}
