import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, KeyObject } from 'node:crypto';
import { CLAIM_PROOF_BYTES, PACKET_OVERHEAD_BYTES, AUTH_TAG_BYTES } from '../protocol/constants';
import { crc32c } from '../protocol/crc32c';
import { PacketEncodeError, PacketErrorCode } from '../protocol/packet-errors';
import { AnnouncePacket, ClaimPacket, ClaimProof, SIGNED_PACKET_TYPE_CODES, announceCodec, decodePacket, encodePacket } from '../protocol/packets';
import { createPacketTagger } from './packet-auth';
import { CLAIM_CLOCK_SKEW_SECONDS, createClaimSigner, createClaimVerifier, rawPublicKeyOf, signLanTicket } from './claim-proof';

const TAGGER = createPacketTagger(Uint8Array.from({ length: 32 }, (_, i) => i));
const TASK = 'task-1';
const NOW_MS = Date.UTC(2026, 11, 3, 12, 0, 0);
const NOW_S = NOW_MS / 1000;

function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

const controlPlane = generateKeyPairSync('ed25519');
const CP_KEY_ID = keyIdOf(controlPlane.publicKey);

/** A device of the task: its key, and the ticket the control plane issued it for `senderId`. */
function device(senderId: string, options: { taskId?: string; notAfter?: number; signedBy?: KeyObject; keyId?: string } = {}) {
  const keys = generateKeyPairSync('ed25519');
  const devicePublicKey = rawPublicKeyOf(keys.publicKey);
  const notAfter = options.notAfter ?? NOW_S + 3600;
  const ticketSignature = signLanTicket({ taskId: options.taskId ?? TASK, senderId, devicePublicKey, notAfter }, options.signedBy ?? controlPlane.privateKey);
  const proof: ClaimProof = { keyId: options.keyId ?? CP_KEY_ID, devicePublicKey, notAfter, ticketSignature };
  return { proof, signer: createClaimSigner(keys.privateKey) };
}

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';
const SESSION = '0123456789abcdef';

function announce(senderId: string, proof?: ClaimProof): AnnouncePacket {
  return {
    sessionId: SESSION,
    senderId,
    type: 'announce',
    seq: 7,
    phase: 'gathering',
    weight: 255,
    contentId: 'ab'.repeat(32),
    size: 10 * 1024 * 1024,
    blockSize: 1024 * 1024,
    symbolSize: 1400,
    groupDataSymbols: 128,
    proactiveParity: 0,
    startDelayMs: 60_000,
    rateKbps: 0,
    blocksReady: 0,
    sendingBlock: 0,
    ...(proof === undefined ? {} : { proof }),
  };
}

const verifier = () => createClaimVerifier({ taskId: TASK, trustedKey: (keyId) => (keyId === CP_KEY_ID ? controlPlane.publicKey : undefined), now: () => NOW_MS });

function decoded(bytes: Uint8Array) {
  const result = decodePacket(bytes, TAGGER);
  assert.ok(result.ok, result.ok ? '' : result.error.message);
  return result.value;
}

test('claim proof: a signed ANNOUNCE and CLAIM use their own type codes, carry 172 more bytes and decode to the same fields', () => {
  const a = device(A);
  const bytes = encodePacket(announce(A, a.proof), TAGGER, a.signer);
  assert.equal(bytes[3], SIGNED_PACKET_TYPE_CODES.announce);
  assert.equal(bytes.length, encodePacket(announce(A), TAGGER).length + CLAIM_PROOF_BYTES);
  assert.equal(bytes.length, PACKET_OVERHEAD_BYTES + 70 + CLAIM_PROOF_BYTES + AUTH_TAG_BYTES);
  const value = decoded(bytes) as AnnouncePacket;
  assert.equal(value.type, 'announce');
  assert.equal(value.seq, 7);
  assert.equal(value.proof?.keyId, CP_KEY_ID);
  assert.equal(value.proof?.notAfter, a.proof.notAfter);
  assert.deepEqual(Buffer.from(value.proof!.devicePublicKey), Buffer.from(a.proof.devicePublicKey));
  // The per-type codec reads the signed code as its own type.
  assert.ok(announceCodec.decode(bytes, TAGGER).ok);

  const claim: ClaimPacket = { sessionId: SESSION, senderId: A, type: 'claim', weight: 9, blocksHeld: 3, proof: a.proof };
  const claimBytes = encodePacket(claim, TAGGER, a.signer);
  assert.equal(claimBytes[3], SIGNED_PACKET_TYPE_CODES.claim);
  const back = decoded(claimBytes) as ClaimPacket;
  assert.deepEqual({ weight: back.weight, blocksHeld: back.blocksHeld }, { weight: 9, blocksHeld: 3 });
  assert.equal(verifier()(back), null);
});

test('claim proof: encoding refuses a proof without a signer, on a type that has no signed variant, or with a malformed field', () => {
  const a = device(A);
  assert.throws(() => encodePacket(announce(A, a.proof), TAGGER), PacketEncodeError);
  assert.throws(() => encodePacket({ ...announce(A), proof: { ...a.proof, keyId: 'xyz' } }, TAGGER, a.signer), PacketEncodeError);
  assert.throws(() => encodePacket({ ...announce(A), proof: { ...a.proof, devicePublicKey: new Uint8Array(31) } }, TAGGER, a.signer), PacketEncodeError);
  assert.throws(() => encodePacket({ ...announce(A), proof: { ...a.proof, ticketSignature: new Uint8Array(63) } }, TAGGER, a.signer), PacketEncodeError);
  assert.throws(() => encodePacket(announce(A, a.proof), TAGGER, () => new Uint8Array(10)), PacketEncodeError);
  assert.throws(() => encodePacket({ sessionId: SESSION, senderId: A, type: 'join', blocksHeld: 1, proof: a.proof } as never, TAGGER, a.signer), PacketEncodeError);
});

test('claim proof: a signed packet cut short of its proof is BAD_LENGTH, never a half-read proof', () => {
  const a = device(A);
  const unsigned = encodePacket(announce(A), TAGGER);
  // The unsigned body under the signed code (tag and CRC made right, as a key holder could).
  const relabelled = Uint8Array.from(unsigned);
  relabelled[3] = SIGNED_PACKET_TYPE_CODES.announce;
  const end = relabelled.length - 4 - AUTH_TAG_BYTES;
  relabelled.set(TAGGER(relabelled.subarray(0, end)).subarray(0, AUTH_TAG_BYTES), end);
  new DataView(relabelled.buffer).setUint32(relabelled.length - 4, crc32c(relabelled, 0, relabelled.length - 4));
  const result = decodePacket(relabelled, TAGGER);
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.error.code, PacketErrorCode.BadLength);
  assert.ok(encodePacket(announce(A, a.proof), TAGGER, a.signer).length > unsigned.length);
});

test('claim proof: the verifier accepts a genuine claim and names what is wrong with every other kind', () => {
  const a = device(A);
  const b = device(B);
  const verify = verifier();
  const genuine = decoded(encodePacket(announce(A, a.proof), TAGGER, a.signer));
  assert.equal(verify(genuine), null);
  assert.equal(verify(genuine), null, 'a second ANNOUNCE with the cached ticket');
  const otherKeyCp = generateKeyPairSync('ed25519');
  const expired = device(A, { notAfter: NOW_S - CLAIM_CLOCK_SKEW_SECONDS - 1 });
  const otherTask = device(A, { taskId: 'task-2' });
  const untrusted = device(A, { signedBy: otherKeyCp.privateKey, keyId: keyIdOf(otherKeyCp.publicKey) });
  const wrongSigner = device(A, { signedBy: otherKeyCp.privateKey });
  const cases: Array<{ name: string; packet: () => ReturnType<typeof decoded>; says: RegExp }> = [
    { name: 'unsigned', packet: () => decoded(encodePacket(announce(A), TAGGER)), says: /unsigned ANNOUNCE/ },
    { name: "B's ticket under A's sender ID", packet: () => decoded(encodePacket(announce(A, b.proof), TAGGER, b.signer)), says: /not the control plane's/ },
    { name: "A's ticket, signed with B's key", packet: () => decoded(encodePacket(announce(A, a.proof), TAGGER, b.signer)), says: /not signed with its ticket's key/ },
    { name: "A's ticket replayed by B with B's key in it", packet: () => decoded(encodePacket(announce(A, { ...a.proof, devicePublicKey: b.proof.devicePublicKey }), TAGGER, b.signer)), says: /not the control plane's/ },
    { name: 'expired', packet: () => decoded(encodePacket(announce(A, expired.proof), TAGGER, expired.signer)), says: /expired/ },
    { name: 'another task', packet: () => decoded(encodePacket(announce(A, otherTask.proof), TAGGER, otherTask.signer)), says: /not the control plane's/ },
    { name: 'an untrusted control-plane key', packet: () => decoded(encodePacket(announce(A, untrusted.proof), TAGGER, untrusted.signer)), says: /does not trust/ },
    { name: 'signed by another key under the trusted key ID', packet: () => decoded(encodePacket(announce(A, wrongSigner.proof), TAGGER, wrongSigner.signer)), says: /not the control plane's/ },
    {
      name: 'a field changed after signing (weight), tag and CRC made right',
      packet: () => {
        const bytes = encodePacket(announce(A, a.proof), TAGGER, a.signer);
        bytes[25] = 1; // weight
        const end = bytes.length - 4 - AUTH_TAG_BYTES;
        bytes.set(TAGGER(bytes.subarray(0, end)).subarray(0, AUTH_TAG_BYTES), end);
        new DataView(bytes.buffer).setUint32(bytes.length - 4, crc32c(bytes, 0, bytes.length - 4));
        return decoded(bytes);
      },
      says: /not signed with its ticket's key/,
    },
  ];
  for (const c of cases) {
    const rejection = verify(c.packet());
    assert.ok(rejection !== null, c.name);
    assert.equal(rejection.code, PacketErrorCode.BadClaim, c.name);
    assert.match(rejection.message, c.says, c.name);
  }
  // Packets that claim nothing need no proof.
  assert.equal(verify({ type: 'join', senderId: B } as never), null);
});
