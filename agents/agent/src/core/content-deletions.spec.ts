import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignedContentDeletions } from '@fleetcast/contracts';
import { ContentDeletionsDocument, endorsementToWire, generateSigningKey, publicKeyDerOf, signContentDeletions, signEndorsement, SigningKeyPair } from '@fleetcast/content';
import { checkDeletionNotice, contentToDrop } from './content-deletions';
import { PinnedKeySet } from './key-set';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const pinnedKey = generateSigningKey();
const otherKey = generateSigningKey();
const pinned: PinnedKeySet = { keys: [{ keyId: pinnedKey.keyId, publicKeyDer: Buffer.from(publicKeyDerOf(pinnedKey.publicKey)).toString('base64') }], retiredKeyIds: [] };

function doc(overrides: Partial<ContentDeletionsDocument> = {}): ContentDeletionsDocument {
  return { deviceId: 'dev-1', contentIds: [A, B], issuedAt: new Date(NOW - 1000).toISOString(), expiresAt: new Date(NOW + 3_600_000).toISOString(), ...overrides };
}

function notice(document: ContentDeletionsDocument, key: SigningKeyPair, endorsements: SignedContentDeletions['endorsements'] = []): SignedContentDeletions {
  const signed = signContentDeletions(document, key);
  return { document, keyId: signed.keyId, signature: Buffer.from(signed.signature).toString('base64'), endorsements };
}

describe('checkDeletionNotice', () => {
  it('accepts a notice signed by a pinned key for this device', () => {
    assert.deepEqual(checkDeletionNotice(notice(doc(), pinnedKey), { keys: pinned }, 'dev-1', NOW), { ok: true, contentIds: [A, B] });
  });

  const refusals: Array<[string, () => SignedContentDeletions, RegExp]> = [
    ['signed by a key the device does not pin', () => notice(doc(), otherKey), /does not pin/],
    ['altered after signing (a content ID added)', () => ({ ...notice(doc({ contentIds: [A] }), pinnedKey), document: doc({ contentIds: [A, B] }) }), /does not cover/],
    ['unsigned (an empty signature)', () => ({ ...notice(doc(), pinnedKey), signature: '' }), /does not cover/],
    ['for another device', () => notice(doc({ deviceId: 'dev-2' }), pinnedKey), /not this device/],
    ['expired', () => notice(doc({ issuedAt: new Date(NOW - 7_200_000).toISOString(), expiresAt: new Date(NOW - 3_600_000).toISOString() }), pinnedKey), /expired/],
  ];
  for (const [what, make, reason] of refusals) {
    it(`refuses a notice ${what}`, () => {
      const check = checkDeletionNotice(make(), { keys: pinned }, 'dev-1', NOW);
      assert.equal(check.ok, false);
      assert.match((check as { reason: string }).reason, reason);
    });
  }

  it('refuses every notice while no key is pinned', () => {
    const check = checkDeletionNotice(notice(doc(), pinnedKey), { keys: { keys: [], retiredKeyIds: [] } }, 'dev-1', NOW);
    assert.equal(check.ok, false);
  });

  it('follows an endorsement from the pinned key to a rotated one', () => {
    const endorsement = signEndorsement(otherKey.publicKey, pinnedKey, { notBefore: new Date(NOW - 60_000), expiresAt: new Date(NOW + 86_400_000) });
    const check = checkDeletionNotice(notice(doc(), otherKey, [endorsementToWire(endorsement)]), { keys: pinned }, 'dev-1', NOW);
    assert.deepEqual(check, { ok: true, contentIds: [A, B] });
  });
});

describe('contentToDrop', () => {
  it('drops what is cached and named, never what a task still needs', () => {
    const C = 'c'.repeat(64);
    assert.deepEqual(contentToDrop([A, B, C, A], [B, A], new Set([B])), [A]);
    assert.deepEqual(contentToDrop([], [A], new Set()), []);
  });
});
