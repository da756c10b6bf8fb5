import { strict as assert } from 'node:assert';
import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  canonicalJson,
  generateLicenseKeyPair,
  LicensePayload,
  parsePrivateKey,
  parsePublicKey,
  signLicense,
  verifyLicenseKey,
} from './license-key';

/** An Ed25519 key from a fixed seed (PKCS#8 prefix of RFC 8410 + 32 seed bytes): signatures are deterministic. */
function keyFromSeed(seedByte: number): { privateKey: KeyObject; publicKey: KeyObject } {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, seedByte)]);
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

const issuer = keyFromSeed(7);
const stranger = keyFromSeed(8);

const payload: LicensePayload = {
  licenseId: 'lic-0001',
  customer: 'Example Corp',
  seats: 250,
  issuedAt: '2026-01-01T00:00:00.000Z',
  expiresAt: '2027-01-01T00:00:00.000Z',
  features: ['multicast', 'peer'],
};
const during = new Date('2026-06-01T00:00:00.000Z');

/** The key text of `payload` under `issuer` (RFC 8032 signatures are deterministic): a change of format shows here. */
const GOLDEN_KEY =
  'FCL1.eyJjdXN0b21lciI6IkV4YW1wbGUgQ29ycCIsImV4cGlyZXNBdCI6IjIwMjctMDEtMDFUMDA6MDA6MDAuMDAwWiIsImZlYXR1cmVzIjpbIm11bHRpY2FzdCIsInBlZXIiXSwiaXNzdWVkQXQiOiIyMDI2LTAxLTAxVDAwOjAwOjAwLjAwMFoiLCJsaWNlbnNlSWQiOiJsaWMtMDAwMSIsInNlYXRzIjoyNTB9.IuF116VSiD9PhBB2QuQhOounaTKoYm5pEvLit5pLyf6Gf2Z4iP38pLLGEjQYf8Tt3fOP8meSqYXnxQ-21oyXBg';

/** Replaces one character of a base64url text with another valid one, so only the bytes change. */
function flipChar(text: string, index: number): string {
  const c = text[index]!;
  return text.slice(0, index) + (c === 'A' ? 'B' : 'A') + text.slice(index + 1);
}

/** Key text for arbitrary payload bytes signed by `key`: what a careless or hostile issuer could produce. */
function keyOfBytes(bytes: Buffer, key: KeyObject = issuer.privateKey): string {
  return `FCL1.${bytes.toString('base64url')}.${sign(null, bytes, key).toString('base64url')}`;
}

describe('license keys', () => {
  const key = signLicense(payload, issuer.privateKey);

  it('writes the payload as canonical JSON and signs it deterministically (golden key)', () => {
    const [, body, signature] = key.split('.');
    assert.equal(key, GOLDEN_KEY);
    assert.equal(Buffer.from(body!, 'base64url').toString('utf8'), canonicalJson(payload));
    assert.equal(signLicense({ ...payload }, issuer.privateKey), key, 'same payload, same key text');
    assert.equal(Buffer.from(signature!, 'base64url').length, 64);
  });

  it('sorts keys at every level and leaves no whitespace in canonical JSON', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: 'x' } }), '{"a":{"c":"x","d":[2,{"e":0,"f":1}]},"b":1}');
  });

  const cases: Array<{ name: string; text: () => string; now?: Date; reason?: string; message?: RegExp }> = [
    { name: 'a valid key', text: () => key },
    { name: 'a valid key wrapped over lines with spaces', text: () => `  ${key.slice(0, 40)}\n${key.slice(40, 90)}\r\n ${key.slice(90)}\n` },
    { name: 'a key on its last valid millisecond', text: () => key, now: new Date(Date.parse(payload.expiresAt) - 1) },
    {
      name: 'a tampered payload (one character of the seats changed)',
      text: () => {
        const [prefix, body, signature] = key.split('.');
        const json = Buffer.from(body!, 'base64url').toString('utf8').replace('"seats":250', '"seats":950');
        return `${prefix}.${Buffer.from(json).toString('base64url')}.${signature}`;
      },
      reason: 'bad-signature',
      message: /altered, or it was signed by another issuer/,
    },
    {
      name: 'a payload with one base64url character flipped',
      text: () => {
        const [prefix, body, signature] = key.split('.');
        return `${prefix}.${flipChar(body!, 10)}.${signature}`;
      },
      reason: 'bad-signature',
    },
    {
      name: 'a tampered signature',
      text: () => {
        const [prefix, body, signature] = key.split('.');
        return `${prefix}.${body}.${flipChar(signature!, 5)}`;
      },
      reason: 'bad-signature',
    },
    { name: 'a key signed by another private key', text: () => signLicense(payload, stranger.privateKey), reason: 'bad-signature' },
    { name: 'an expired key', text: () => key, now: new Date(payload.expiresAt), reason: 'expired', message: /lic-0001 of Example Corp expired at 2027-01-01T00:00:00.000Z/ },
    { name: 'an empty text', text: () => '', reason: 'malformed', message: /expected FCL1\.<payload>\.<signature>/ },
    { name: 'another prefix', text: () => key.replace(/^FCL1/, 'FCL2'), reason: 'malformed' },
    { name: 'two parts only', text: () => key.split('.').slice(0, 2).join('.'), reason: 'malformed' },
    { name: 'four parts', text: () => `${key}.AAAA`, reason: 'malformed' },
    { name: 'a payload that is not base64url', text: () => key.replace(/^FCL1\.(.)/, 'FCL1.+'), reason: 'malformed', message: /payload part is not base64url/ },
    { name: 'an empty payload', text: () => `FCL1..${key.split('.')[2]}`, reason: 'malformed' },
    { name: 'a truncated signature', text: () => key.slice(0, -4), reason: 'malformed', message: /signature part is not 64 bytes/ },
    { name: 'a signed payload that is not JSON', text: () => keyOfBytes(Buffer.from('seats=1000')), reason: 'bad-payload', message: /not JSON/ },
    {
      name: 'a signed payload with a field missing',
      text: () => keyOfBytes(Buffer.from(canonicalJson({ ...payload, seats: undefined }))),
      reason: 'bad-payload',
      message: /seats: Required/,
    },
    {
      name: 'a signed payload with an unknown field',
      text: () => keyOfBytes(Buffer.from(canonicalJson({ ...payload, unlimited: true }))),
      reason: 'bad-payload',
    },
    {
      name: 'a signed payload that expires before it was issued',
      text: () => keyOfBytes(Buffer.from(canonicalJson({ ...payload, expiresAt: '2025-01-01T00:00:00.000Z' }))),
      reason: 'bad-payload',
      message: /expiresAt must be after issuedAt/,
    },
    {
      name: 'a signed payload that is not canonical (whitespace)',
      text: () => keyOfBytes(Buffer.from(JSON.stringify(JSON.parse(canonicalJson(payload)), null, 1))),
      reason: 'bad-payload',
      message: /canonical/,
    },
  ];
  for (const c of cases) {
    it(`${c.reason ? `refuses ${c.reason}:` : 'accepts'} ${c.name}`, () => {
      const result = verifyLicenseKey(c.text(), issuer.publicKey, c.now ?? during);
      if (!c.reason) {
        assert.deepEqual(result, { ok: true, license: payload });
        return;
      }
      assert.equal(result.ok, false, `expected a refusal, got ${JSON.stringify(result)}`);
      if (result.ok) return;
      assert.equal(result.reason, c.reason, result.message);
      if (c.message) assert.match(result.message, c.message);
    });
  }

  it('refuses to sign a payload the verifier would refuse', () => {
    assert.throws(() => signLicense({ ...payload, seats: 0 }, issuer.privateKey));
    assert.throws(() => signLicense({ ...payload, licenseId: 'has.dots' }, issuer.privateKey));
  });
});

describe('license key pairs', () => {
  it('round-trips a generated pair through the forms the CLI prints and the config reads', () => {
    const pair = generateLicenseKeyPair();
    const privateKey = parsePrivateKey(`# keep this secret\n${pair.privateKeyPem}\ntrailing text`);
    const fromDer = parsePublicKey(pair.publicKeyBase64);
    const fromPem = parsePublicKey(fromDer.export({ type: 'spki', format: 'pem' }).toString());
    const text = signLicense(payload, privateKey);
    assert.equal(verifyLicenseKey(text, fromDer, during).ok, true);
    assert.equal(verifyLicenseKey(text, fromPem, during).ok, true);
  });

  it('refuses keys that are not Ed25519 or not keys at all', () => {
    assert.throws(() => parsePublicKey('bm90IGEga2V5'), /not a public key in PEM or base64 DER/);
    assert.throws(() => parsePrivateKey('nothing here'), /no "BEGIN PRIVATE KEY" PEM block/);
    const { publicKey: x25519 } = generateKeyPairSync('x25519');
    assert.throws(() => parsePublicKey(x25519.export({ type: 'spki', format: 'der' }).toString('base64')), /Ed25519 key is needed, this one is x25519/);
  });
});

