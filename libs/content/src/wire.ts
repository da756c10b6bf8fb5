import type { AssignmentDocument, KeyEndorsement } from './assignment';
import { Manifest, Signed } from './manifest';

/** The JSON form of a signed manifest as the contracts carry it (binary fields base64). */
export interface SignedManifestWire {
  contentId: string;
  size: number;
  blockSize: number;
  blockHashes: string;
  keyId: string;
  signature: string;
}

export function toWire(signed: Signed<Manifest>): SignedManifestWire {
  return {
    contentId: signed.value.contentId,
    size: signed.value.size,
    blockSize: signed.value.blockSize,
    blockHashes: Buffer.from(signed.value.blockHashes).toString('base64'),
    keyId: signed.keyId,
    signature: Buffer.from(signed.signature).toString('base64'),
  };
}

export function fromWire(wire: SignedManifestWire): Signed<Manifest> {
  return {
    value: {
      contentId: wire.contentId,
      size: wire.size,
      blockSize: wire.blockSize,
      blockHashes: new Uint8Array(Buffer.from(wire.blockHashes, 'base64')),
    },
    keyId: wire.keyId,
    signature: new Uint8Array(Buffer.from(wire.signature, 'base64')),
  };
}

/** The JSON form of a signed assignment as the contracts carry it (signature base64). */
export interface SignedAssignmentWire {
  document: AssignmentDocument;
  keyId: string;
  signature: string;
}

export function assignmentToWire(signed: Signed<AssignmentDocument>): SignedAssignmentWire {
  return { document: signed.value, keyId: signed.keyId, signature: Buffer.from(signed.signature).toString('base64') };
}

export function assignmentFromWire(wire: SignedAssignmentWire): Signed<AssignmentDocument> {
  return { value: wire.document, keyId: wire.keyId, signature: new Uint8Array(Buffer.from(wire.signature, 'base64')) };
}

/** The JSON form of a key endorsement (key and signature base64). */
export interface KeyEndorsementWire {
  keyId: string;
  publicKeyDer: string;
  endorsedBy: string;
  notBefore: string;
  expiresAt: string;
  signature: string;
}

export function endorsementToWire(e: KeyEndorsement): KeyEndorsementWire {
  return {
    keyId: e.keyId,
    publicKeyDer: Buffer.from(e.publicKeyDer).toString('base64'),
    endorsedBy: e.endorsedBy,
    notBefore: e.notBefore,
    expiresAt: e.expiresAt,
    signature: Buffer.from(e.signature).toString('base64'),
  };
}

export function endorsementFromWire(wire: KeyEndorsementWire): KeyEndorsement {
  return {
    keyId: wire.keyId,
    publicKeyDer: new Uint8Array(Buffer.from(wire.publicKeyDer, 'base64')),
    endorsedBy: wire.endorsedBy,
    notBefore: wire.notBefore,
    expiresAt: wire.expiresAt,
    signature: new Uint8Array(Buffer.from(wire.signature, 'base64')),
  };
}
