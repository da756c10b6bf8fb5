import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import {
  AssignmentDocument,
  assignmentShapeError,
  CancellationDocument,
  cancellationSigningBytes,
  signCancellation,
  verifyCancellationSignature,
  assignmentSigningBytes,
  endorsementSigningBytes,
  manifestHash,
  signAssignment,
  signEndorsement,
  verifyAssignmentSignature,
  verifyEndorsement,
} from './assignment';
import { BlockHasher } from './block-hasher';
import { keyIdOf, SigningKeyPair } from './manifest';
import { assignmentFromWire, assignmentToWire, endorsementFromWire, endorsementToWire } from './wire';

/** An Ed25519 key from a fixed 32-byte seed (PKCS#8 prefix of RFC 8410), so signatures are golden too. */
function fixedKey(seedByte: number): SigningKeyPair {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, seedByte)]);
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), privateKey, publicKey };
}

const doc: AssignmentDocument = {
  taskId: 't1',
  deviceId: 'd1',
  action: 'install',
  package: {
    contentId: 'ab'.repeat(32),
    size: 5,
    manifestHash: 'cd'.repeat(32),
    installCommand: 'sh',
    installArgs: ['-c', 'x'],
    successExitCodes: [0, -1],
    timeoutSeconds: 60,
  },
  issuedAt: '2026-01-01T00:00:00.000Z',
  notBefore: '2026-01-01T00:00:00.000Z',
  expiresAt: '2026-01-31T00:00:00.000Z',
  retiredKeyIds: ['r1'],
};

const str = (s: string) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]).toString('hex');
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

test('assignment signing bytes: golden, field by field', () => {
  const expected = [
    Buffer.from('fleetcast-assignment-v1\0').toString('hex'),
    str('k1'),
    str('t1'),
    str('d1'),
    str('install'),
    str('ab'.repeat(32)),
    '0000000000000005', // size, u64
    str('cd'.repeat(32)),
    str('sh'),
    '00000002' + str('-c') + str('x'), // arguments: count, then each
    '00000002' + '00000000' + 'ffffffff', // success exit codes: count, then i32 each
    '0000003c', // timeout 60 s
    '0000019b76daa800', // issuedAt 2026-01-01T00:00:00Z in ms
    '0000019b76daa800', // notBefore
    '0000019c11597000', // expiresAt 2026-01-31T00:00:00Z
    '00000001' + str('r1'),
  ].join('');
  assert.equal(assignmentSigningBytes(doc, 'k1').toString('hex'), expected);
  // The same instant written another way is the same document.
  assert.deepEqual(assignmentSigningBytes({ ...doc, issuedAt: '2026-01-01T01:00:00+01:00' }, 'k1'), assignmentSigningBytes(doc, 'k1'));
});

test('assignment signature: golden for a fixed key (Ed25519 is deterministic)', () => {
  const key = fixedKey(1);
  assert.equal(key.keyId, 'fd110d301d2f077d');
  const signed = signAssignment(doc, key);
  assert.equal(
    Buffer.from(signed.signature).toString('hex'),
    '63280b1cf583e63731dab1c7979595186f7d10511ea568629c0e3a082dc9255ebb4658b7ecbff6ec5fd0d6daa4f9038e40415a2c21269410229d7ed2d7859801',
  );
  assert.ok(verifyAssignmentSignature(signed, key.publicKey));
  assert.ok(verifyAssignmentSignature(assignmentFromWire(JSON.parse(JSON.stringify(assignmentToWire(signed)))), key.publicKey));
});

test('assignment signature fails on any change, another key, or a key ID that is not the signer', () => {
  const key = fixedKey(1);
  const signed = signAssignment(doc, key);
  const changed: Array<[string, AssignmentDocument]> = [
    ['one byte of the install command', { ...doc, package: { ...doc.package, installCommand: 'sH' } }],
    ['an argument', { ...doc, package: { ...doc.package, installArgs: ['-c', 'y'] } }],
    ['arguments regrouped', { ...doc, package: { ...doc.package, installArgs: ['-cx'] } }],
    ['exit codes', { ...doc, package: { ...doc.package, successExitCodes: [0] } }],
    ['the device', { ...doc, deviceId: 'd2' }],
    ['the content', { ...doc, package: { ...doc.package, contentId: 'ef'.repeat(32) } }],
    ['the manifest', { ...doc, package: { ...doc.package, manifestHash: 'ef'.repeat(32) } }],
    ['the expiry', { ...doc, expiresAt: '2026-02-28T00:00:00.000Z' }],
    ['the action', { ...doc, action: 'cache-only' }],
    ['retired keys', { ...doc, retiredKeyIds: [] }],
  ];
  for (const [what, value] of changed) assert.equal(verifyAssignmentSignature({ ...signed, value }, key.publicKey), false, what);
  assert.equal(verifyAssignmentSignature(signed, fixedKey(2).publicKey), false, 'another key');
  const flipped = new Uint8Array(signed.signature);
  flipped[0] ^= 1;
  assert.equal(verifyAssignmentSignature({ ...signed, signature: flipped }, key.publicKey), false, 'a flipped signature bit');
});

test('assignment shape: what cannot be signed is named, and never verifies', () => {
  assert.equal(assignmentShapeError(doc), null);
  assert.match(assignmentShapeError({ ...doc, expiresAt: doc.notBefore }) ?? '', /expiresAt is not after notBefore/);
  assert.match(assignmentShapeError({ ...doc, issuedAt: 'yesterday' }) ?? '', /issuedAt is not a time/);
  assert.match(assignmentShapeError({ ...doc, package: { ...doc.package, contentId: 'AB'.repeat(32) } }) ?? '', /content ID/);
  assert.match(assignmentShapeError({ ...doc, package: { ...doc.package, successExitCodes: [2 ** 31] } }) ?? '', /exit code/);
  assert.throws(() => assignmentSigningBytes({ ...doc, notBefore: 'soon' }, 'k1'), /notBefore is not a time/);
  const key = fixedKey(1);
  assert.equal(verifyAssignmentSignature({ ...signAssignment(doc, key), value: { ...doc, expiresAt: 'never' } }, key.publicKey), false);
});

test('endorsement: golden bytes and signature; verifies only with the endorsing key and for the key it names', () => {
  const old = fixedKey(1);
  const next = fixedKey(2);
  const e = signEndorsement(next.publicKey, old, { notBefore: new Date('2026-01-01T00:00:00Z'), expiresAt: new Date('2027-01-01T00:00:00Z') });
  assert.equal(e.keyId, '47dea58ea00fae94');
  assert.equal(e.endorsedBy, old.keyId);
  assert.equal(
    endorsementSigningBytes(e).toString('hex'),
    [
      Buffer.from('fleetcast-key-endorsement-v1\0').toString('hex'),
      str('47dea58ea00fae94'),
      '0000002c' + '302a300506032b65700321008139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394', // SPKI DER
      str('fd110d301d2f077d'),
      '0000019b76daa800',
      '000001a2ce8bd400',
    ].join(''),
  );
  assert.equal(
    Buffer.from(e.signature).toString('hex'),
    '034d06e3873236ae5f99ffad9ef7bd5b27725b45032854cc17030f734ebcfb9600d20cd297d8f37813fdda2d290a0ca91b9a794a21e6c2d2c5cb192f441aea0f',
  );
  assert.ok(verifyEndorsement(e, old.publicKey));
  assert.ok(verifyEndorsement(endorsementFromWire(JSON.parse(JSON.stringify(endorsementToWire(e)))), old.publicKey));
  assert.equal(verifyEndorsement(e, next.publicKey), false, 'not signed by the endorsed key itself');
  assert.equal(verifyEndorsement({ ...e, expiresAt: '2030-01-01T00:00:00.000Z' }, old.publicKey), false, 'a longer window');
  assert.equal(verifyEndorsement({ ...e, publicKeyDer: Buffer.from(fixedKey(3).publicKey.export({ type: 'spki', format: 'der' })) }, old.publicKey), false, 'another key under the same ID');
  assert.equal(verifyEndorsement({ ...e, publicKeyDer: new Uint8Array([1, 2, 3]) }, old.publicKey), false, 'not a key at all');
});

test('manifest hash: SHA-256 of the manifest signing bytes, changed by any block hash', () => {
  const hasher = new BlockHasher(4);
  hasher.update(Buffer.from('0123456789'));
  const m = hasher.finish();
  const h = manifestHash(m);
  assert.match(h, /^[0-9a-f]{64}$/);
  const other = { ...m, blockHashes: new Uint8Array(m.blockHashes) };
  other.blockHashes[0] ^= 1;
  assert.notEqual(manifestHash(other), h);
});

test('assignment attempt: absent leaves the bytes as they were; present is signed after the rest', () => {
  const first = assignmentSigningBytes(doc, 'k1');
  const retried = assignmentSigningBytes({ ...doc, attempt: 2 }, 'k1');
  assert.equal(retried.toString('hex'), first.toString('hex') + '00000002');
  const key = fixedKey(1);
  const signed = signAssignment({ ...doc, attempt: 3 }, key);
  assert.equal(verifyAssignmentSignature(signed, key.publicKey), true);
  // A retry's copy cannot be passed off as another attempt, nor as the first.
  assert.equal(verifyAssignmentSignature({ ...signed, value: { ...signed.value, attempt: 4 } }, key.publicKey), false);
  assert.equal(verifyAssignmentSignature({ ...signed, value: { ...signed.value, attempt: undefined } }, key.publicKey), false);
  assert.match(assignmentShapeError({ ...doc, attempt: 1 }) ?? '', /attempt/);
});

test('cancellation signing bytes: golden, under a domain tag of their own', () => {
  const cancel: CancellationDocument = { taskId: 't1', deviceId: 'd1', issuedAt: '2026-01-01T00:00:00.000Z', retiredKeyIds: [] };
  const expected = [Buffer.from('fleetcast-cancellation-v1\0').toString('hex'), str('k1'), str('t1'), str('d1'), '0000019b76daa800', '00000000'].join('');
  assert.equal(cancellationSigningBytes(cancel, 'k1').toString('hex'), expected);
});

test('cancellation signature: verifies for its key and document only', () => {
  const key = fixedKey(1);
  const other = fixedKey(2);
  const cancel: CancellationDocument = { taskId: 't1', deviceId: 'd1', issuedAt: '2026-01-01T00:00:00.000Z', retiredKeyIds: [] };
  const signed = signCancellation(cancel, key);
  assert.equal(verifyCancellationSignature(signed, key.publicKey), true);
  assert.equal(verifyCancellationSignature(signed, other.publicKey), false);
  assert.equal(verifyCancellationSignature({ ...signed, value: { ...cancel, deviceId: 'd2' } }, key.publicKey), false);
  assert.equal(verifyCancellationSignature({ ...signed, value: { ...cancel, taskId: 't2' } }, key.publicKey), false);
  // An assignment's signature is no cancellation's, even by the same key.
  const assignment = signAssignment(doc, key);
  assert.equal(verifyCancellationSignature({ value: cancel, keyId: key.keyId, signature: assignment.signature }, key.publicKey), false);
  assert.equal(verifyCancellationSignature({ ...signed, value: { ...cancel, issuedAt: 'not a time' } }, key.publicKey), false);
});

test('assignment confidential: absent leaves the bytes as they were; present is signed, and cannot be stripped or added', () => {
  const key = fixedKey(7);
  const plain = assignmentSigningBytes(doc, 'k1');
  const confidential = { ...doc, package: { ...doc.package, confidential: true as const } };
  const sealed = assignmentSigningBytes(confidential, 'k1');
  assert.deepEqual(sealed.subarray(0, plain.length), plain, 'a trailer after every other field');
  assert.equal(sealed.length - plain.length, 16);
  // With an attempt too: 4 + 16 bytes, a length no document with only one of them has.
  assert.equal(assignmentSigningBytes({ ...confidential, attempt: 2 }, 'k1').length - plain.length, 20);
  const signed = signAssignment(confidential, key);
  assert.equal(verifyAssignmentSignature(signed, key.publicKey), true);
  const { confidential: _, ...stripped } = signed.value.package;
  assert.equal(verifyAssignmentSignature({ ...signed, value: { ...signed.value, package: stripped } }, key.publicKey), false, 'stripped');
  assert.equal(verifyAssignmentSignature({ ...signAssignment(doc, key), value: confidential }, key.publicKey), false, 'added');
  assert.match(assignmentShapeError({ ...doc, package: { ...doc.package, confidential: false as unknown as true } }) ?? '', /confidential/);
});
