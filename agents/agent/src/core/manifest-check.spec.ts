import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BlockHasher, fromWire, generateSigningKey, manifestHash, publicKeyDerOf, signManifest, SigningKeyPair, toWire } from '@fleetcast/content';
import { AgentErrorCode } from './agent-errors';
import { PinnedKeySet } from './key-set';
import { ManifestRejectedError, acceptManifest } from './manifest-check';

const key = generateSigningKey();
const hasher = new BlockHasher(1024);
hasher.update(randomBytes(5000));
const manifest = hasher.finish();
const signed = fromWire(JSON.parse(JSON.stringify(toWire(signManifest(manifest, key)))));
const pkg = { contentId: manifest.contentId, size: manifest.size, manifestHash: manifestHash(manifest) };
const pinned = (...keys: SigningKeyPair[]): PinnedKeySet => ({
  keys: keys.map((k) => ({ keyId: k.keyId, publicKeyDer: Buffer.from(publicKeyDerOf(k.publicKey)).toString('base64') })),
  retiredKeyIds: [],
});

const rejected = (pattern: RegExp) => (e: unknown) =>
  e instanceof ManifestRejectedError && e.code === AgentErrorCode.ManifestRejected && pattern.test(e.message);

test('acceptManifest: a signed manifest for the task content is accepted', () => {
  assert.deepEqual(acceptManifest(signed, pinned(key), pkg), signed.value);
});

test('acceptManifest: any pinned key verifies by its key ID (a rotation overlap: old and new pinned)', () => {
  const next = generateSigningKey();
  assert.deepEqual(acceptManifest(signed, pinned(next, key), pkg), signed.value);
  const signedByNext = fromWire(toWire(signManifest(manifest, next)));
  assert.deepEqual(acceptManifest(signedByNext, pinned(key, next), pkg), signed.value);
  assert.throws(() => acceptManifest(signedByNext, pinned(key), pkg), rejected(/does not pin/));
});

test('acceptManifest: another key, a tampered block hash, other content, or another manifest than the assignment names is rejected', () => {
  assert.throws(() => acceptManifest(signed, pinned(generateSigningKey()), pkg), rejected(/does not pin/));
  assert.throws(() => acceptManifest(signed, pinned(), pkg), rejected(/pinned: none/));
  const tampered = fromWire(toWire(signed));
  tampered.value.blockHashes[0]! ^= 1;
  assert.throws(() => acceptManifest(tampered, pinned(key), pkg), rejected(/signature/));
  assert.throws(() => acceptManifest(signed, pinned(key), { ...pkg, contentId: 'b'.repeat(64) }), rejected(/the task names/));
  assert.throws(() => acceptManifest(signed, pinned(key), { ...pkg, size: pkg.size + 1 }), rejected(/the task names/));
  assert.throws(() => acceptManifest(signed, pinned(key), { ...pkg, manifestHash: 'c'.repeat(64) }), rejected(/not the one the signed assignment names/));
  const short = fromWire(toWire(signed));
  short.value.blockHashes = short.value.blockHashes.subarray(32);
  assert.throws(() => acceptManifest(short, pinned(key), pkg), rejected(/malformed/));
});
