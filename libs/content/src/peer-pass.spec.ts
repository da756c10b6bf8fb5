import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateSigningKey } from './manifest';
import { PeerPassDocument, peerPassSigningBytes, signPeerPass, verifyPeerPassSignature } from './peer-pass';

const doc: PeerPassDocument = {
  deviceId: 'east-1',
  officeId: 'east',
  parentOfficeId: 'hq',
  issuedAt: '2026-12-03T10:00:00.000Z',
  expiresAt: '2026-12-03T10:10:00.000Z',
};

describe('peer pass', () => {
  const key = generateSigningKey();

  test('a signed pass verifies with the key that signed it', () => {
    assert.equal(verifyPeerPassSignature(signPeerPass(doc, key), key.publicKey), true);
  });

  test('every field is covered: a changed device, office, parent or expiry fails', () => {
    const signed = signPeerPass(doc, key);
    for (const change of [{ deviceId: 'east-2' }, { officeId: 'west' }, { officeId: null }, { parentOfficeId: 'east' }, { expiresAt: '2026-12-03T11:10:00.000Z' }]) {
      assert.equal(verifyPeerPassSignature({ ...signed, value: { ...doc, ...change } }, key.publicKey), false, JSON.stringify(change));
    }
  });

  test('another key, another key ID or a flipped signature bit fails', () => {
    const signed = signPeerPass(doc, key);
    assert.equal(verifyPeerPassSignature(signed, generateSigningKey().publicKey), false);
    assert.equal(verifyPeerPassSignature({ ...signed, keyId: '0000000000000000' }, key.publicKey), false);
    const flipped = new Uint8Array(signed.signature);
    flipped[0] ^= 1;
    assert.equal(verifyPeerPassSignature({ ...signed, signature: flipped }, key.publicKey), false);
  });

  test('a pass that expires before it is issued cannot be signed, nor verified', () => {
    const bad = { ...doc, expiresAt: doc.issuedAt };
    assert.throws(() => peerPassSigningBytes(bad, key.keyId), /expiresAt is not after issuedAt/);
    const signed = signPeerPass(doc, key);
    assert.equal(verifyPeerPassSignature({ ...signed, value: bad }, key.publicKey), false);
  });

  test('a pass without an office signs other bytes than one with an office', () => {
    const none = peerPassSigningBytes({ ...doc, officeId: null }, key.keyId);
    assert.notDeepEqual(none, peerPassSigningBytes(doc, key.keyId));
  });
});
