import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignedPeerPass } from '@fleetcast/contracts';
import { generateSigningKey, PeerPassDocument, publicKeyDerOf, signPeerPass, SigningKeyPair } from '@fleetcast/content';
import { checkPeerPass, decodePeerPass, encodePeerPass, PeerPassMemo } from './peer-pass-check';
import { PinnedKeySet } from './key-set';

const NOW = Date.parse('2026-12-03T12:00:00Z');
const controlPlane = generateSigningKey();
const stranger = generateSigningKey();
const trust = { keys: { keys: [{ keyId: controlPlane.keyId, publicKeyDer: Buffer.from(publicKeyDerOf(controlPlane.publicKey)).toString('base64') }], retiredKeyIds: [] } satisfies PinnedKeySet };

function doc(overrides: Partial<PeerPassDocument> = {}): PeerPassDocument {
  return { deviceId: 'east-2', officeId: 'east', parentOfficeId: 'hq', issuedAt: new Date(NOW - 1000).toISOString(), expiresAt: new Date(NOW + 600_000).toISOString(), ...overrides };
}

function header(document: PeerPassDocument, key: SigningKeyPair = controlPlane): string {
  const signed = signPeerPass(document, key);
  const pass: SignedPeerPass = { document, keyId: signed.keyId, signature: Buffer.from(signed.signature).toString('base64'), endorsements: [] };
  return encodePeerPass(pass);
}

describe('checkPeerPass', () => {
  const accepted: Array<[string, string | null, PeerPassDocument]> = [
    ['a device of the same office', 'east', doc()],
    ['a device of an office below (its upstream fetcher)', 'hq', doc()],
    ['any enrolled device, at a server without an office', null, doc({ officeId: null, parentOfficeId: null })],
  ];
  for (const [what, serverOffice, document] of accepted) {
    it(`serves ${what}`, () => assert.deepEqual(checkPeerPass(header(document), trust, serverOffice, NOW), { ok: true, deviceId: 'east-2' }));
  }

  const refused: Array<[string, () => string | undefined, string | null, RegExp]> = [
    ['no header', () => undefined, 'east', /no peer pass/],
    ['garbage', () => 'not-base64-json!', 'east', /not base64url JSON|not a signed pass/],
    ['JSON of another shape', () => Buffer.from('{"a":1}').toString('base64url'), 'east', /not a signed pass/],
    ['a pass signed by a key the device does not pin', () => header(doc(), stranger), 'east', /does not pin/],
    ['an expired pass', () => header(doc({ issuedAt: new Date(NOW - 3_600_000).toISOString(), expiresAt: new Date(NOW - 600_000).toISOString() })), 'east', /expired/],
    ['a device of a sibling office', () => header(doc({ officeId: 'west' })), 'east', /neither this office/],
    ['a device of the parent office (content flows down, not up)', () => header(doc({ officeId: 'hq', parentOfficeId: null })), 'east', /neither this office/],
    ['a pass whose office was changed after signing', () => {
      const json = JSON.parse(Buffer.from(header(doc({ officeId: 'west' })), 'base64url').toString('utf8'));
      json.document.officeId = 'east';
      return Buffer.from(JSON.stringify(json)).toString('base64url');
    }, 'east', /does not cover/],
    ['an oversized header', () => 'A'.repeat(20_000), 'east', /too long/],
  ];
  for (const [what, make, serverOffice, reason] of refused) {
    it(`refuses ${what}`, () => {
      const check = checkPeerPass(make(), trust, serverOffice, NOW);
      assert.equal(check.ok, false);
      assert.match((check as { reason: string }).reason, reason);
    });
  }

  it('refuses every pass when no key is pinned', () => {
    const check = checkPeerPass(header(doc()), { keys: { keys: [], retiredKeyIds: [] } }, 'east', NOW);
    assert.deepEqual(check, { ok: false, reason: 'no control-plane key is pinned' });
  });

  it('decodes what it encodes', () => {
    const pass = decodePeerPass(header(doc()));
    assert.equal(typeof pass, 'object');
    assert.equal((pass as SignedPeerPass).document.deviceId, 'east-2');
  });
});

describe('checkPeerPass with a memo (one per peer server, across its requests)', () => {
  it('serves a pass again, and still refuses it once expired, at another office, or when its key is no longer pinned', () => {
    const memo = new PeerPassMemo();
    const pass = header(doc());
    assert.deepEqual(checkPeerPass(pass, trust, 'east', NOW, memo), { ok: true, deviceId: 'east-2' });
    assert.deepEqual(checkPeerPass(pass, trust, 'east', NOW + 1000, memo), { ok: true, deviceId: 'east-2' });
    assert.equal(memo.size, 1);
    const later = checkPeerPass(pass, trust, 'east', NOW + 600_000 + 5 * 60_000, memo);
    assert.equal(later.ok, false);
    assert.match((later as { reason: string }).reason, /expired/);
    const west = checkPeerPass(pass, trust, 'west', NOW, memo);
    assert.equal(west.ok, false);
    assert.match((west as { reason: string }).reason, /neither this office/);
    const unpinned = checkPeerPass(pass, { keys: { keys: [{ keyId: stranger.keyId, publicKeyDer: Buffer.from(publicKeyDerOf(stranger.publicKey)).toString('base64') }], retiredKeyIds: [] } }, 'east', NOW, memo);
    assert.equal(unpinned.ok, false);
    assert.match((unpinned as { reason: string }).reason, /does not pin/);
    assert.deepEqual(checkPeerPass(pass, { keys: { keys: [], retiredKeyIds: [] } }, 'east', NOW, memo), { ok: false, reason: 'no control-plane key is pinned' });
  });

  it('a pass whose signature failed is refused every time, and a forged copy of a good one too', () => {
    const memo = new PeerPassMemo();
    const forged = header(doc(), stranger);
    const json = JSON.parse(Buffer.from(forged, 'base64url').toString('utf8'));
    json.keyId = controlPlane.keyId;
    const claimed = Buffer.from(JSON.stringify(json)).toString('base64url');
    for (let i = 0; i < 2; i++) assert.match((checkPeerPass(claimed, trust, 'east', NOW, memo) as { reason: string }).reason, /does not cover/);
    const good = header(doc({ officeId: 'west' }));
    assert.equal(checkPeerPass(good, trust, 'west', NOW, memo).ok, true);
    const edited = JSON.parse(Buffer.from(good, 'base64url').toString('utf8'));
    edited.document.officeId = 'east';
    assert.match((checkPeerPass(Buffer.from(JSON.stringify(edited)).toString('base64url'), trust, 'east', NOW, memo) as { reason: string }).reason, /does not cover/);
  });

  it('keeps no header that does not decode, and at most maxEntries', () => {
    const memo = new PeerPassMemo(2);
    assert.equal(checkPeerPass('not-base64-json!', trust, 'east', NOW, memo).ok, false);
    assert.equal(memo.size, 0);
    for (const deviceId of ['east-2', 'east-3', 'east-4']) assert.deepEqual(checkPeerPass(header(doc({ deviceId })), trust, 'east', NOW, memo), { ok: true, deviceId });
    assert.equal(memo.size, 2);
  });
});

