import type { KeyObject } from 'node:crypto';
import { peerPassDocumentSchema, SignedPeerPass, signedPeerPassSchema } from '@fleetcast/contracts';
import { endorsementFromWire, PeerPassDocument, verifyPeerPassSignature } from '@fleetcast/content';
import { CLOCK_SKEW_MS, followEndorsements, pinnedKey } from './key-set';
import type { TrustAnchors } from './assignment-check';

export type PeerPassCheck = { ok: true; deviceId: string } | { ok: false; reason: string };

/** A header longer than this is not a pass (a pass with 16 endorsements is ~6 KB of base64url). */
const MAX_PASS_HEADER_CHARS = 16_384;

/** The pass as a header carries it: the signed pass as base64url JSON. */
export function encodePeerPass(pass: SignedPeerPass): string {
  return Buffer.from(JSON.stringify(pass), 'utf8').toString('base64url');
}

/** The pass in a header, or why it is not one. */
export function decodePeerPass(header: string): SignedPeerPass | string {
  if (header.length > MAX_PASS_HEADER_CHARS) return `a pass header of ${header.length} characters is too long`;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
  } catch {
    return 'the pass header is not base64url JSON';
  }
  const parsed = signedPeerPassSchema.safeParse(json);
  return parsed.success ? parsed.data : `the pass header is not a signed pass: ${parsed.error.issues[0]?.message ?? 'bad shape'}`;
}

/**
 * What a pass header says whatever the time and the server: its decoded pass, and the keys its
 * signature was found to hold for. A peer server checks the pass of every request, and a fetcher
 * shows the same header for its pass's life (10 minutes), so decoding it and verifying its Ed25519
 * signature again for every block of every fetcher was most of a serving device's work per request.
 * Only what depends on the header alone is kept: whether the signing key is pinned (trust can
 * change), the pass's expiry (time passes) and its office (the server's may change) are checked on
 * every call. Headers that do not decode are not kept. Bounded: beyond `maxEntries` the oldest is dropped.
 */
export class PeerPassMemo {
  private readonly entries = new Map<string, { pass: SignedPeerPass; document: PeerPassDocument; verifiedWith: WeakSet<KeyObject> }>();

  /** 256: the devices of an office, each with its current pass and the one renewing it. */
  constructor(private readonly maxEntries = 256) {}

  get size(): number {
    return this.entries.size;
  }

  decoded(header: string): { pass: SignedPeerPass; document: PeerPassDocument; verifiedWith: WeakSet<KeyObject> } | string {
    const known = this.entries.get(header);
    if (known !== undefined) return known;
    const pass = decodePeerPass(header);
    if (typeof pass === 'string') return pass;
    const parsed = peerPassDocumentSchema.safeParse(pass.document);
    if (!parsed.success) return `the pass header is not a signed pass: ${parsed.error.issues[0]?.message ?? 'bad shape'}`;
    const entry = { pass, document: parsed.data, verifiedWith: new WeakSet<KeyObject>() };
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(header, entry);
    return entry;
  }
}

/**
 * Whether a peer block server serves the holder of a pass: signed by a key the device pins
 * (directly or through endorsements), not expired, and of this server's office or of an office
 * whose parent is this server's (the parent tier of the swarm: a branch's upstream fetcher asks the
 * parent office's devices). A server without an office (no topology) serves any enrolled device's
 * pass. Pure but for `memo` (what a header says, see PeerPassMemo): keys and time are parameters;
 * nothing throws.
 */
export function checkPeerPass(header: string | undefined, trust: TrustAnchors, serverOfficeId: string | null, nowMs: number, memo: PeerPassMemo = new PeerPassMemo(1)): PeerPassCheck {
  if (header === undefined || header.length === 0) return { ok: false, reason: 'no peer pass' };
  if (header.length > MAX_PASS_HEADER_CHARS) return { ok: false, reason: `a pass header of ${header.length} characters is too long` };
  const decoded = memo.decoded(header);
  if (typeof decoded === 'string') return { ok: false, reason: decoded };
  const { pass, document, verifiedWith } = decoded;
  if (trust.keys.keys.length === 0) return { ok: false, reason: 'no control-plane key is pinned' };
  const followed = followEndorsements(trust.keys, pass.endorsements.map(endorsementFromWire), nowMs);
  const key = pinnedKey(followed.set, pass.keyId);
  if (key === undefined) return { ok: false, reason: `signed by ${pass.keyId}, a key this device does not pin` };
  if (!verifiedWith.has(key)) {
    const signed = { value: document, keyId: pass.keyId, signature: new Uint8Array(Buffer.from(pass.signature, 'base64')) };
    if (!verifyPeerPassSignature(signed, key)) return { ok: false, reason: `the signature by ${pass.keyId} does not cover the pass as received` };
    verifiedWith.add(key);
  }
  if (nowMs - CLOCK_SKEW_MS >= Date.parse(document.expiresAt)) return { ok: false, reason: `the pass of ${document.deviceId} expired at ${document.expiresAt}` };
  if (serverOfficeId !== null && document.officeId !== serverOfficeId && document.parentOfficeId !== serverOfficeId) {
    return { ok: false, reason: `device ${document.deviceId} is of office ${document.officeId ?? '(none)'}, neither this office (${serverOfficeId}) nor one below it` };
  }
  return { ok: true, deviceId: document.deviceId };
}
