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
