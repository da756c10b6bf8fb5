import { KeyObject, sign, verify } from 'node:crypto';
import { CanonicalWriter } from './assignment';
import { keyIdOf, Signed, SigningKeyPair } from './manifest';

/**
 * A peer pass: the control plane's word that a device is an enrolled device of an office. A device
 * shows it to a peer's block server (an HTTP header) and the server checks it against the keys it
 * pins, so that a host on the LAN that is not an enrolled device, or a device of another office,
 * is refused before a block is read. Only the device's own NATS user can ask for its pass, and the
 * pass names the device, so a pass lifted from a stolen device works for that device's office
 * until it expires (short-lived for that reason) and the device is retired.
 */
export interface PeerPassDocument {
  deviceId: string;
  /** The office the device is placed in; null without a topology (then it is only "an enrolled device"). */
  officeId: string | null;
  /** Its office's parent office, whose devices serve it the content that crosses its WAN link; null at the top. */
  parentOfficeId: string | null;
  issuedAt: string;
  /** A server refuses the pass after this time. */
  expiresAt: string;
}

const PEER_PASS_DOMAIN = Buffer.from('fleetcast-peer-pass-v1\0');

/** Why a pass cannot be signed or verified as it is; null when it can. */
export function peerPassShapeError(doc: PeerPassDocument): string | null {
  if (doc.deviceId.length === 0) return 'the device ID is empty';
  for (const [name, value] of [['issuedAt', doc.issuedAt], ['expiresAt', doc.expiresAt]] as const) {
    if (!Number.isFinite(Date.parse(value))) return `${name} is not a time`;
  }
  if (Date.parse(doc.expiresAt) <= Date.parse(doc.issuedAt)) return 'expiresAt is not after issuedAt';
  return null;
}

/** The bytes a pass's signature covers: a domain tag of its own, the key ID, then every field in a fixed order (absent offices as empty strings). */
export function peerPassSigningBytes(doc: PeerPassDocument, keyId: string): Buffer {
  const shape = peerPassShapeError(doc);
  if (shape !== null) throw new RangeError(`a peer pass cannot be signed: ${shape}`);
  return new CanonicalWriter()
    .raw(PEER_PASS_DOMAIN)
    .string(keyId)
    .string(doc.deviceId)
    .string(doc.officeId ?? '')
    .string(doc.parentOfficeId ?? '')
    .time(doc.issuedAt)
    .time(doc.expiresAt)
    .bytes();
}

export function signPeerPass(doc: PeerPassDocument, key: SigningKeyPair): Signed<PeerPassDocument> {
  return { value: doc, keyId: key.keyId, signature: new Uint8Array(sign(null, peerPassSigningBytes(doc, key.keyId), key.privateKey)) };
}

/** True when `publicKey` is the key the pass names and its signature covers the pass as it is. */
export function verifyPeerPassSignature(signed: Signed<PeerPassDocument>, publicKey: KeyObject): boolean {
  if (peerPassShapeError(signed.value) !== null) return false;
  if (signed.keyId !== keyIdOf(publicKey)) return false;
  try {
    return verify(null, peerPassSigningBytes(signed.value, signed.keyId), publicKey, Buffer.from(signed.signature));
  } catch {
    return false;
  }
}
