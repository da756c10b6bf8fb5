import { createPrivateKey, createPublicKey, KeyObject, randomBytes, sign, verify } from 'node:crypto';
// The library's own hook for its Ed25519 implementation (not re-exported from its index).
import { Ed25519Helper, getEd25519Helper, setEd25519Helper } from 'nkeys.js/lib/helper';

/** DER prefixes that turn a raw 32-byte Ed25519 seed or public key into PKCS#8 / SPKI (RFC 8410). */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const privateKeyOf = (seed: Uint8Array): KeyObject => createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
const publicKeyOf = (pub: Uint8Array): KeyObject => createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pub]), format: 'der', type: 'spki' });

/**
 * nkeys.js signs with a pure-JavaScript Ed25519 (about 29 ms a JWT here, which made enrollment run
 * at 27 devices a second); Node's own is native and gives the same bytes (Ed25519 signatures are
 * deterministic). This swaps it in through the library's own hook, keeping the JavaScript curve25519
 * functions, which nkeys uses only for its sealed boxes. The secret key keeps the library's layout:
 * seed (32 bytes) then public key (32 bytes).
 */
export function useNativeEd25519(): void {
  const js = getEd25519Helper();
  const native: Ed25519Helper = {
    ...js,
    randomBytes: (length) => new Uint8Array(randomBytes(length)),
    fromSeed(seed) {
      const pub = createPublicKey(privateKeyOf(seed)).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
      return { publicKey: new Uint8Array(pub), secretKey: new Uint8Array(Buffer.concat([seed, pub])) };
    },
    sign: (data, secretKey) => new Uint8Array(sign(null, data, privateKeyOf(secretKey.subarray(0, 32)))),
    verify: (data, signature, pub) => pub.length === 32 && verify(null, data, publicKeyOf(pub), signature),
  };
  setEd25519Helper(native);
}
