import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BlockHasher, fromWire, generateSigningKey, signManifest, toWire } from '@fleetcast/content';
import { AgentErrorCode } from './agent-errors';
import { ManifestRejectedError, acceptManifest } from './manifest-check';

const key = generateSigningKey();
const hasher = new BlockHasher(1024);
hasher.update(randomBytes(5000));
const manifest = hasher.finish();
const signed = fromWire(JSON.parse(JSON.stringify(toWire(signManifest(manifest, key)))));
const pkg = { contentId: manifest.contentId, size: manifest.size };

const rejected = (pattern: RegExp) => (e: unknown) =>
  e instanceof ManifestRejectedError && e.code === AgentErrorCode.ManifestRejected && pattern.test(e.message);

test('acceptManifest: a signed manifest for the task content is accepted', () => {
  assert.deepEqual(acceptManifest(signed, key.publicKey, pkg), signed.value);
});

test('acceptManifest: another key, a tampered block hash, or other content is rejected', () => {
  assert.throws(() => acceptManifest(signed, generateSigningKey().publicKey, pkg), rejected(/signature/));
  const tampered = fromWire(toWire(signed));
  tampered.value.blockHashes[0]! ^= 1;
  assert.throws(() => acceptManifest(tampered, key.publicKey, pkg), rejected(/signature/));
  assert.throws(() => acceptManifest(signed, key.publicKey, { ...pkg, contentId: 'b'.repeat(64) }), rejected(/the task names/));
  assert.throws(() => acceptManifest(signed, key.publicKey, { ...pkg, size: pkg.size + 1 }), rejected(/the task names/));
  const short = fromWire(toWire(signed));
  short.value.blockHashes = short.value.blockHashes.subarray(32);
  assert.throws(() => acceptManifest(short, key.publicKey, pkg), rejected(/malformed/));
});
