import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateSigningKey, publicKeyDerOf } from '@fleetcast/content';
import { EMPTY_KEY_SET, keyRecordError, keyRecordOf, pinnedKey, retireKeys, seedKey } from './key-set';

const a = generateSigningKey();
const b = generateSigningKey();
const derOf = (k: typeof a) => Buffer.from(publicKeyDerOf(k.publicKey)).toString('base64');

test('keyRecordOf: the ID is computed from the key; anything but an Ed25519 SPKI key is refused', () => {
  assert.deepEqual(keyRecordOf(derOf(a)), { record: { keyId: a.keyId, publicKeyDer: derOf(a) } });
  assert.match((keyRecordOf('bm90IGEga2V5') as { error: string }).error, /not a base64 SPKI DER/);
});

test('keyRecordError: a record whose ID is not its key is named', () => {
  assert.equal(keyRecordError({ keyId: a.keyId, publicKeyDer: derOf(a) }), null);
  assert.match(keyRecordError({ keyId: a.keyId, publicKeyDer: derOf(b) }) ?? '', new RegExp(`is in fact key ${b.keyId}`));
  assert.equal(pinnedKey({ keys: [{ keyId: a.keyId, publicKeyDer: derOf(b) }], retiredKeyIds: [] }, a.keyId), undefined, 'a mislabelled key is no key');
});

test('pinnedKey and keyRecordError answer alike the second time (parsed keys are kept per DER)', () => {
  for (let i = 0; i < 2; i++) {
    const set = { keys: [{ keyId: a.keyId, publicKeyDer: derOf(a) }], retiredKeyIds: [] };
    const key = pinnedKey(set, a.keyId);
    assert.equal(key?.asymmetricKeyType, 'ed25519');
    assert.equal(pinnedKey(set, a.keyId), key, 'the same parsed key');
    assert.equal(pinnedKey(set, b.keyId), undefined);
    assert.match(keyRecordError({ keyId: b.keyId, publicKeyDer: derOf(a) }) ?? '', new RegExp(`is in fact key ${a.keyId}`));
    assert.match(keyRecordError({ keyId: 'x', publicKeyDer: 'bm90IGEga2V5' }) ?? '', /not a public key/);
  }
});

test('seedKey: adds once; never brings back a retired key', () => {
  const record = { keyId: a.keyId, publicKeyDer: derOf(a) };
  const once = seedKey(EMPTY_KEY_SET, record);
  assert.equal(once.added, true);
  assert.equal(seedKey(once.set, record).added, false);
  const refused = seedKey({ keys: [], retiredKeyIds: [a.keyId] }, record);
  assert.equal(refused.added, false);
  assert.match(refused.refused ?? '', /retired/);
});

test('retireKeys: drops and remembers retired keys, but never the key that signed the retirement', () => {
  const set = { keys: [{ keyId: a.keyId, publicKeyDer: derOf(a) }, { keyId: b.keyId, publicKeyDer: derOf(b) }], retiredKeyIds: [] };
  const out = retireKeys(set, [a.keyId, b.keyId], b.keyId);
  assert.deepEqual(out.retired, [a.keyId]);
  assert.deepEqual(out.set.keys.map((k) => k.keyId), [b.keyId]);
  assert.deepEqual(out.set.retiredKeyIds, [a.keyId]);
  assert.equal(retireKeys(out.set, [a.keyId], b.keyId).retired.length, 0, 'a second notice changes nothing');
});
