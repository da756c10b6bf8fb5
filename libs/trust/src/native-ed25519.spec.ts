import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { getEd25519Helper } from 'nkeys.js/lib/helper';
import { createUser } from 'nkeys.js';
import { useNativeEd25519 } from './native-ed25519';

test('native Ed25519 gives the same keys and signatures as the JavaScript one, and verifies both ways', () => {
  const js = getEd25519Helper();
  useNativeEd25519();
  const native = getEd25519Helper();
  assert.notEqual(native, js);
  for (let i = 0; i < 20; i++) {
    const seed = new Uint8Array(randomBytes(32));
    const a = js.fromSeed(seed);
    const b = native.fromSeed(seed);
    assert.deepEqual(Buffer.from(b.publicKey), Buffer.from(a.publicKey));
    assert.deepEqual(Buffer.from(b.secretKey), Buffer.from(a.secretKey));
    const data = new Uint8Array(randomBytes(100 + i));
    const sig = native.sign(data, b.secretKey);
    assert.deepEqual(Buffer.from(sig), Buffer.from(js.sign(data, a.secretKey)));
    assert.ok(native.verify(data, sig, b.publicKey));
    assert.ok(js.verify(data, sig, a.publicKey));
    data[0] ^= 1;
    assert.equal(native.verify(data, sig, b.publicKey), false, 'a changed message fails');
  }
  // Through the library: a user key made and used with the native helper.
  const user = createUser();
  const message = new TextEncoder().encode('nonce');
  assert.ok(user.verify(message, user.sign(message)));
});
