import { SignedContentDeletions } from '@fleetcast/contracts';
import { endorsementFromWire, verifyContentDeletionsSignature } from '@fleetcast/content';
import { CLOCK_SKEW_MS, followEndorsements, pinnedKey } from './key-set';
import type { TrustAnchors } from './assignment-check';

export type DeletionNoticeCheck = { ok: true; contentIds: string[] } | { ok: false; reason: string };

/**
 * Whether the agent may act on a deletion notice: signed by a key the device pins (directly, or
 * through endorsements that start at a pinned key), unaltered, for this device, and not expired.
 * The signature is checked before anything the notice says is believed. Pure: keys and time are
 * parameters; nothing throws. A refused notice deletes nothing.
 */
export function checkDeletionNotice(notice: SignedContentDeletions, trust: TrustAnchors, deviceId: string, nowMs: number): DeletionNoticeCheck {
  if (trust.keys.keys.length === 0) return { ok: false, reason: `no control-plane key is pinned${trust.problem ? ` (${trust.problem})` : ''}` };
  const followed = followEndorsements(trust.keys, notice.endorsements.map(endorsementFromWire), nowMs);
  const key = pinnedKey(followed.set, notice.keyId);
  if (key === undefined) return { ok: false, reason: `signed by ${notice.keyId}, a key this device does not pin` };
  const signed = { value: notice.document, keyId: notice.keyId, signature: new Uint8Array(Buffer.from(notice.signature, 'base64')) };
  if (!verifyContentDeletionsSignature(signed, key)) return { ok: false, reason: `the signature by ${notice.keyId} does not cover the notice as received` };
  if (notice.document.deviceId !== deviceId) return { ok: false, reason: `signed for device ${notice.document.deviceId}, not this device (${deviceId})` };
  if (nowMs - CLOCK_SKEW_MS >= Date.parse(notice.document.expiresAt)) return { ok: false, reason: `expired at ${notice.document.expiresAt}` };
  return { ok: true, contentIds: notice.document.contentIds };
}

/**
 * Which cached content to remove for a verified notice: what the cache holds and the notice names,
 * except content a task on this device still needs (`pinned`: never pulled from under a task).
 */
export function contentToDrop(named: readonly string[], cached: readonly string[], pinned: ReadonlySet<string>): string[] {
  const held = new Set(cached);
  return [...new Set(named)].filter((id) => held.has(id) && !pinned.has(id)).sort();
}
