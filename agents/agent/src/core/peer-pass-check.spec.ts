import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignedPeerPass } from '@fleetcast/contracts';
import { generateSigningKey, PeerPassDocument, publicKeyDerOf, signPeerPass, SigningKeyPair } from '@fleetcast/content';
import { checkPeerPass, decodePeerPass, encodePeerPass } from './peer-pass-check';
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
