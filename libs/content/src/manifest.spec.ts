import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { BlockHasher } from './block-hasher';
import { blockCount, generateSigningKey, manifestShapeError, signManifest, verifyAndSealBlock, verifyBlock, verifyManifestSignature, exportPrivateKeyPem, loadSigningKey } from './manifest';
import { fromWire, toWire } from './wire';

test('block hasher: content ID and block hashes match a one-shot hash, whatever the chunking', () => {
  const data = randomBytes(10 * 1000 + 7);
  const hasher = new BlockHasher(1000);
  for (let i = 0; i < data.length; i += 333) hasher.update(data.subarray(i, i + 333));
  const m = hasher.finish();
  assert.equal(m.contentId, createHash('sha256').update(data).digest('hex'));
  assert.equal(m.size, data.length);
  assert.equal(m.blockHashes.length, blockCount(data.length, 1000) * 32);
  assert.equal(manifestShapeError(m), null);
  for (let b = 0; b < 11; b++) {
    const block = data.subarray(b * 1000, Math.min((b + 1) * 1000, data.length));
    assert.ok(verifyBlock(m, b, block), `block ${b}`);
  }
  const corrupt = Buffer.from(data.subarray(0, 1000));
  corrupt[5] ^= 1;
  assert.equal(verifyBlock(m, 0, corrupt), false);
  assert.equal(verifyBlock(m, 10, data.subarray(10000, 10006)), false, 'short last block is rejected');
});

test('empty content has no blocks and a valid manifest', () => {
  const m = new BlockHasher(4).finish();
  assert.equal(m.size, 0);
  assert.equal(m.blockHashes.length, 0);
  assert.equal(manifestShapeError(m), null);
});

test('signature: verifies, survives the wire form, and fails on any change or another key', () => {
  const key = generateSigningKey();
  const hasher = new BlockHasher(16);
  hasher.update(randomBytes(100));
  const signed = signManifest(hasher.finish(), key);
  assert.ok(verifyManifestSignature(signed, key.publicKey));
  const back = fromWire(JSON.parse(JSON.stringify(toWire(signed))));
  assert.ok(verifyManifestSignature(back, key.publicKey));

  const tampered = fromWire(toWire(signed));
  tampered.value.blockHashes[3] ^= 0xff;
  assert.equal(verifyManifestSignature(tampered, key.publicKey), false);
  const resized = fromWire(toWire(signed));
  resized.value.size += 1;
  assert.equal(verifyManifestSignature(resized, key.publicKey), false);
  assert.equal(verifyManifestSignature(signed, generateSigningKey().publicKey), false);

  const reloaded = loadSigningKey(exportPrivateKeyPem(key));
  assert.equal(reloaded.keyId, key.keyId);
});

test('sealed blocks: verified once for the bytes object, against the same hash only', () => {
  const data = randomBytes(3000);
  const hasher = new BlockHasher(1000);
  hasher.update(data);
  const m = hasher.finish();
  const block = Uint8Array.from(data.subarray(0, 1000));
  const wrong = Uint8Array.from(block);
  wrong[0] ^= 1;
  assert.equal(verifyAndSealBlock(m, 0, wrong), false, 'wrong bytes are not sealed');
  assert.equal(verifyBlock(m, 0, wrong), false);
  assert.equal(verifyAndSealBlock(m, 0, block), true);
  assert.equal(verifyBlock(m, 0, block), true);
  assert.equal(verifyBlock(m, 1, block), false, 'another block\'s hash is checked by hashing');
  // The seal answers for this object, without hashing again: its holders treat it as read-only.
  block[1] ^= 1;
  assert.equal(verifyBlock(m, 0, block), true, 'the sealed object is not hashed again');
  assert.equal(verifyBlock(m, 0, Uint8Array.from(block)), false, 'a copy is hashed');
});
