import { peerPassDocumentSchema, SignedPeerPass, signedPeerPassSchema } from '@fleetcast/contracts';
import { endorsementFromWire, verifyPeerPassSignature } from '@fleetcast/content';
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
 * Whether a peer block server serves the holder of a pass: signed by a key the device pins
 * (directly or through endorsements), not expired, and of this server's office or of an office
 * whose parent is this server's (the parent tier of the swarm: a branch's upstream fetcher asks the
 * parent office's devices). A server without an office (no topology) serves any enrolled device's
 * pass. Pure: keys and time are parameters; nothing throws.
 */
export function checkPeerPass(header: string | undefined, trust: TrustAnchors, serverOfficeId: string | null, nowMs: number): PeerPassCheck {
  if (header === undefined || header.length === 0) return { ok: false, reason: 'no peer pass' };
  const pass = decodePeerPass(header);
  if (typeof pass === 'string') return { ok: false, reason: pass };
  if (trust.keys.keys.length === 0) return { ok: false, reason: 'no control-plane key is pinned' };
  const followed = followEndorsements(trust.keys, pass.endorsements.map(endorsementFromWire), nowMs);
  const key = pinnedKey(followed.set, pass.keyId);
  if (key === undefined) return { ok: false, reason: `signed by ${pass.keyId}, a key this device does not pin` };
  const document = peerPassDocumentSchema.parse(pass.document);
  const signed = { value: document, keyId: pass.keyId, signature: new Uint8Array(Buffer.from(pass.signature, 'base64')) };
  if (!verifyPeerPassSignature(signed, key)) return { ok: false, reason: `the signature by ${pass.keyId} does not cover the pass as received` };
  if (nowMs - CLOCK_SKEW_MS >= Date.parse(document.expiresAt)) return { ok: false, reason: `the pass of ${document.deviceId} expired at ${document.expiresAt}` };
  if (serverOfficeId !== null && document.officeId !== serverOfficeId && document.parentOfficeId !== serverOfficeId) {
    return { ok: false, reason: `device ${document.deviceId} is of office ${document.officeId ?? '(none)'}, neither this office (${serverOfficeId}) nor one below it` };
  }
  return { ok: true, deviceId: document.deviceId };
}
