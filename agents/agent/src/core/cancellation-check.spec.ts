import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskCancelV1 } from '@fleetcast/contracts';
import { endorsementToWire, generateSigningKey, publicKeyDerOf, signAssignment, signCancellation, signEndorsement, SigningKeyPair } from '@fleetcast/content';
import { checkCancellation, CancellationRejectCode } from './cancellation-check';
import { PinnedKeySet } from './key-set';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const DEVICE = 'dev-1';
const cpKey = generateSigningKey();
const newKey = generateSigningKey();
const strangerKey = generateSigningKey();
const pinned = (...keys: SigningKeyPair[]): PinnedKeySet => ({ keys: keys.map((k) => ({ keyId: k.keyId, publicKeyDer: Buffer.from(publicKeyDerOf(k.publicKey)).toString('base64') })), retiredKeyIds: [] });
const trust = { keys: pinned(cpKey) };

function message(key: SigningKeyPair, over: Partial<TaskCancelV1['cancellation']['document']> = {}): TaskCancelV1 {
  const doc = { taskId: 'task-1', deviceId: DEVICE, issuedAt: new Date(NOW).toISOString(), retiredKeyIds: [], ...over };
  const signed = signCancellation(doc, key);
  return { cancellation: { document: doc, keyId: signed.keyId, signature: Buffer.from(signed.signature).toString('base64') }, endorsements: [] };
}
const received = (body: unknown, version: number | null = 1) => ({ subject: `tasks.cmd.device.cancel.v${version}.${DEVICE}`, version, body: { ok: true as const, value: JSON.parse(JSON.stringify(body)) } });

test('a cancellation signed by a pinned key for this device is accepted', () => {
  const verdict = checkCancellation(received(message(cpKey)), trust, DEVICE, NOW);
  assert.equal(verdict.ok, true);
  assert.equal(verdict.ok && verdict.taskId, 'task-1');
});

test('a key learned through an endorsement from a pinned key signs cancellations too', () => {
  const endorsement = signEndorsement(newKey.publicKey, cpKey, { notBefore: new Date(NOW - 1000), expiresAt: new Date(NOW + 3_600_000) });
  const verdict = checkCancellation(received({ ...message(newKey), endorsements: [endorsementToWire(endorsement)] }), trust, DEVICE, NOW);
  assert.equal(verdict.ok, true);
});

test('forged, altered, misaddressed, unsigned or unknown: each ignored with its code', () => {
  const altered = message(cpKey);
  altered.cancellation.document.taskId = 'task-2';
  const assignmentSignature = (() => {
    const m = message(cpKey);
    const doc = { taskId: 'task-1', deviceId: DEVICE, action: 'install', package: { contentId: 'a'.repeat(64), size: 1, manifestHash: 'b'.repeat(64), installCommand: 'x', installArgs: [], successExitCodes: [0], timeoutSeconds: 1 }, issuedAt: m.cancellation.document.issuedAt, notBefore: m.cancellation.document.issuedAt, expiresAt: new Date(NOW + 1000).toISOString(), retiredKeyIds: [] };
    return { ...m, cancellation: { ...m.cancellation, signature: Buffer.from(signAssignment(doc, cpKey).signature).toString('base64') } };
  })();
  const table: Array<{ name: string; input: ReturnType<typeof received>; keys?: PinnedKeySet; code: string }> = [
    { name: 'signed by a key nobody pinned', input: received(message(strangerKey)), code: CancellationRejectCode.UnknownKey },
    { name: 'a pinned key ID with a stranger signature', input: received({ ...message(strangerKey), cancellation: { ...message(strangerKey).cancellation, keyId: cpKey.keyId } }), code: CancellationRejectCode.BadSignature },
    { name: 'altered after signing', input: received(altered), code: CancellationRejectCode.BadSignature },
    { name: 'an assignment signature replayed as a cancellation', input: received(assignmentSignature), code: CancellationRejectCode.BadSignature },
    { name: 'for another device', input: received(message(cpKey, { deviceId: 'dev-2' })), code: CancellationRejectCode.WrongDevice },
    { name: 'unsigned', input: received({ taskId: 'task-1', deviceId: DEVICE }), code: CancellationRejectCode.Malformed },
    { name: 'another version', input: received(message(cpKey), 2), code: CancellationRejectCode.UnsupportedVersion },
    { name: 'no key pinned', input: received(message(cpKey)), keys: { keys: [], retiredKeyIds: [] }, code: CancellationRejectCode.NoPinnedKey },
  ];
  for (const row of table) {
    const verdict = checkCancellation(row.input, row.keys ? { keys: row.keys } : trust, DEVICE, NOW);
    assert.equal(verdict.ok, false, row.name);
    assert.equal(!verdict.ok && verdict.code, row.code, row.name);
  }
  const notJson = checkCancellation({ subject: 's', version: 1, body: { ok: false, error: 'payload is not valid JSON' } }, trust, DEVICE, NOW);
  assert.equal(!notJson.ok && notJson.code, CancellationRejectCode.Malformed);
});
