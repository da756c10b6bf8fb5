import type { AssignmentDocument, KeyEndorsement } from './assignment';
import { Manifest, SHA256_BYTES, Signed } from './manifest';

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

/** One page of a signed manifest as the contracts carry it: the hashes of blocks `fromBlock` on. */
export interface SignedManifestPageWire extends SignedManifestWire {
  fromBlock: number;
  /** Where the next page starts; null when this page ends the manifest. */
  nextBlock: number | null;
}

/** The page of at most `maxBlocks` block hashes starting at `fromBlock` (past the end: an empty last page). */
export function toWirePage(signed: Signed<Manifest>, fromBlock: number, maxBlocks: number): SignedManifestPageWire {
  const total = signed.value.blockHashes.length / SHA256_BYTES;
  const from = Math.min(fromBlock, total);
  const to = Math.min(total, from + maxBlocks);
  return {
    ...toWire({ ...signed, value: { ...signed.value, blockHashes: signed.value.blockHashes.subarray(from * SHA256_BYTES, to * SHA256_BYTES) } }),
    fromBlock: from,
    nextBlock: to < total ? to : null,
  };
}

/** Pages that do not make one manifest: the caller's source is wrong or changed between pages. */
export class ManifestPagesError extends Error {
  readonly code = 'MANIFEST.PAGES_INCONSISTENT';
  constructor(message: string) {
    super(message);
    this.name = 'ManifestPagesError';
  }
}

/**
 * Reads a manifest a page at a time (`fetchPage(fromBlock)`) and puts it together: every page must
 * describe the same manifest (content, size, block size, key and signature) and start where the
 * last ended, and the pages must end at the block count. Nothing here trusts the result: the
 * caller checks the signature over the whole.
 */
export async function assembleManifestPages(fetchPage: (fromBlock: number) => Promise<Partial<SignedManifestPageWire> & SignedManifestWire>): Promise<Signed<Manifest>> {
  const first = await fetchPage(0);
  const expected = first.blockSize > 0 ? Math.ceil(first.size / first.blockSize) : 0;
  const parts: Uint8Array[] = [];
  let page = first;
  let at = 0;
  for (;;) {
    const same = page.contentId === first.contentId && page.size === first.size && page.blockSize === first.blockSize && page.keyId === first.keyId && page.signature === first.signature;
    if (!same) throw new ManifestPagesError(`the page at block ${at} of manifest ${first.contentId} describes another manifest`);
    if ((page.fromBlock ?? 0) !== at) throw new ManifestPagesError(`manifest ${first.contentId}: asked for the page at block ${at}, got one at ${page.fromBlock}`);
    const hashes = new Uint8Array(Buffer.from(page.blockHashes, 'base64'));
    parts.push(hashes);
    at += hashes.length / SHA256_BYTES;
    const next = page.nextBlock ?? null;
    if (next === null) break;
    if (hashes.length === 0) throw new ManifestPagesError(`manifest ${first.contentId}: an empty page at block ${at} is not the last`);
    if (next !== at || at >= expected) throw new ManifestPagesError(`manifest ${first.contentId}: a page ending at block ${at} says the next starts at ${next}`);
    page = await fetchPage(next);
  }
  return fromWire({ ...first, blockHashes: Buffer.concat(parts).toString('base64') });
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
