import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateSigningKey, publicKeyDerOf, signEndorsement, verifyEndorsement } from '@fleetcast/content';
import { endorsementChain, pinnableKeys } from './signing-key.model';
import { SigningKeyRecord } from './signing-key.repository';

const DAY = 24 * 3600 * 1000;
const T0 = new Date('2026-01-01T00:00:00Z');
const k1 = generateSigningKey();
const k2 = generateSigningKey();
const k3 = generateSigningKey();

function record(key: typeof k1, state: SigningKeyRecord['state'], createdAt: Date, endorsedBy?: typeof k1, expiresAt = new Date(createdAt.getTime() + 365 * DAY)): SigningKeyRecord {
  const e = endorsedBy ? signEndorsement(key.publicKey, endorsedBy, { notBefore: createdAt, expiresAt }) : null;
  return {
    keyId: key.keyId,
    privateKeyPem: '',
    publicKeyDer: Buffer.from(publicKeyDerOf(key.publicKey)),
    state,
    createdAt,
    retiringAt: null,
    retiredAt: null,
    endorsement: e && endorsedBy ? { endorsedBy: endorsedBy.keyId, notBefore: createdAt, expiresAt, signature: Buffer.from(e.signature) } : null,
  };
}

const later = (days: number) => new Date(T0.getTime() + days * DAY);

test('endorsementChain: oldest first, from the first key to the active one; empty for the first key', () => {
  const keys = [record(k3, 'active', later(20), k2), record(k2, 'retiring', later(10), k1), record(k1, 'retired', T0)];
  const chain = endorsementChain(keys, k3.keyId, later(21));
  assert.deepEqual(chain.map((e) => [e.endorsedBy, e.keyId]), [[k1.keyId, k2.keyId], [k2.keyId, k3.keyId]]);
  assert.ok(verifyEndorsement(chain[0]!, k1.publicKey));
  assert.ok(verifyEndorsement(chain[1]!, k2.publicKey));
  assert.deepEqual(endorsementChain(keys, k1.keyId, later(21)), []);
});

test('endorsementChain: stops at an expired endorsement (a device before it could not follow anyway)', () => {
  const keys = [record(k3, 'active', later(20), k2), record(k2, 'retired', later(10), k1, later(15)), record(k1, 'retired', T0)];
  assert.deepEqual(endorsementChain(keys, k3.keyId, later(21)).map((e) => e.keyId), [k3.keyId]);
});

test('pinnableKeys: active first, then retiring newest first; retired keys are not handed out', () => {
  const keys = [record(k1, 'retiring', T0), record(k3, 'retired', later(5)), record(k2, 'active', later(10), k1)];
  assert.deepEqual(pinnableKeys(keys).map((k) => k.keyId), [k2.keyId, k1.keyId]);
});
