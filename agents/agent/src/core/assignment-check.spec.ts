import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssignmentDocumentV2, AssignmentRejectCode, DEFAULT_AGENT_SETTINGS, TaskAssignedV2 } from '@fleetcast/contracts';
import { assignmentToWire, endorsementToWire, generateSigningKey, KeyEndorsement, publicKeyDerOf, signAssignment, signEndorsement, SigningKeyPair } from '@fleetcast/content';
import { AssignmentCheck, checkAssignment, ReceivedAssignment } from './assignment-check';
import { CLOCK_SKEW_MS, PinnedKeySet } from './key-set';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const HOUR = 3_600_000;
const DEVICE = 'dev-1';
const cpKey = generateSigningKey();
const otherKey = generateSigningKey();

const recordOf = (k: SigningKeyPair) => ({ keyId: k.keyId, publicKeyDer: Buffer.from(publicKeyDerOf(k.publicKey)).toString('base64') });
const pinned = (...keys: SigningKeyPair[]): PinnedKeySet => ({ keys: keys.map(recordOf), retiredKeyIds: [] });

function documentOf(overrides: Partial<AssignmentDocumentV2> = {}): AssignmentDocumentV2 {
  return {
    taskId: 'task-1',
    deviceId: DEVICE,
    action: 'install',
    package: {
      contentId: 'a'.repeat(64),
      size: 1234,
      manifestHash: 'b'.repeat(64),
      installCommand: '/bin/sh',
      installArgs: ['-c', 'touch /tmp/installed'],
      successExitCodes: [0],
      timeoutSeconds: 600,
    },
    issuedAt: new Date(NOW - HOUR).toISOString(),
    notBefore: new Date(NOW - HOUR).toISOString(),
    expiresAt: new Date(NOW + 24 * HOUR).toISOString(),
    retiredKeyIds: [],
    ...overrides,
  };
}

/** A version 2 message as the tasks service publishes it, as JSON would carry it. */
function message(doc: AssignmentDocumentV2, key: SigningKeyPair, endorsements: KeyEndorsement[] = []): TaskAssignedV2 {
  return JSON.parse(
    JSON.stringify({
      assignment: assignmentToWire(signAssignment(doc, key)),
      endorsements: endorsements.map(endorsementToWire),
      package: { packageId: 'pkg-1', name: 'tool', version: '1.0', platform: 'linux', downloadUrl: 'http://origin.test/v1/content/x' },
      settings: { ...DEFAULT_AGENT_SETTINGS, profileId: 'default' },
    }),
  );
}

const received = (value: unknown, version = 2): ReceivedAssignment => ({ subject: `tasks.cmd.device.assign.v${version}.${DEVICE}`, version, body: { ok: true, value } });

/** Alters one byte of the signed install command after signing. */
function alterCommand(m: TaskAssignedV2): TaskAssignedV2 {
  const copy = structuredClone(m);
  copy.assignment.document.package.installCommand = '/bin/sH';
  return copy;
}

/** Signed by another key, but claiming the pinned key's ID. */
function signedByOtherUnderPinnedId(): TaskAssignedV2 {
  const m = message(documentOf(), otherKey);
  return { ...m, assignment: { ...m.assignment, keyId: cpKey.keyId } };
}

const window = (fromMs: number, toMs: number) => ({ notBefore: new Date(fromMs), expiresAt: new Date(toMs) });

interface Case {
  name: string;
  input: ReceivedAssignment;
  keys: PinnedKeySet;
  expect: AssignmentRejectCode | 'accepted';
  taskId?: string | null;
  message?: RegExp;
}

const nextKey = generateSigningKey();
const endorsement = signEndorsement(nextKey.publicKey, cpKey, window(NOW - HOUR, NOW + 365 * 24 * HOUR));

const cases: Case[] = [
  { name: 'valid', input: received(message(documentOf(), cpKey)), keys: pinned(cpKey), expect: 'accepted' },
  { name: 'altered by one byte in the install command', input: received(alterCommand(message(documentOf(), cpKey))), keys: pinned(cpKey), expect: AssignmentRejectCode.BadSignature, taskId: 'task-1' },
  { name: 'signed by another key under the pinned key ID', input: received(signedByOtherUnderPinnedId()), keys: pinned(cpKey), expect: AssignmentRejectCode.BadSignature },
  { name: 'signed by a key that is not pinned (unknown keyId)', input: received(message(documentOf(), otherKey)), keys: pinned(cpKey), expect: AssignmentRejectCode.UnknownKey, message: /does not pin/ },
  {
    name: 'expired',
    input: received(message(documentOf({ notBefore: new Date(NOW - 48 * HOUR).toISOString(), expiresAt: new Date(NOW - HOUR).toISOString() }), cpKey)),
    keys: pinned(cpKey),
    expect: AssignmentRejectCode.Expired,
    message: /expired at/,
  },
  {
    name: 'not yet valid',
    input: received(message(documentOf({ notBefore: new Date(NOW + HOUR).toISOString() }), cpKey)),
    keys: pinned(cpKey),
    expect: AssignmentRejectCode.NotYetValid,
  },
  {
    name: 'not yet valid by less than the clock skew tolerance: accepted',
    input: received(message(documentOf({ notBefore: new Date(NOW + CLOCK_SKEW_MS - 1000).toISOString() }), cpKey)),
    keys: pinned(cpKey),
    expect: 'accepted',
  },
  { name: 'issued for another device', input: received(message(documentOf({ deviceId: 'dev-2' }), cpKey)), keys: pinned(cpKey), expect: AssignmentRejectCode.WrongDevice, message: /dev-2/ },
  {
    name: 'a forgery for another device is a bad signature, not a misaddressed assignment',
    input: received({ ...message(documentOf({ deviceId: 'dev-2' }), cpKey), assignment: { ...message(documentOf({ deviceId: 'dev-2' }), cpKey).assignment, signature: Buffer.alloc(64).toString('base64') } }),
    keys: pinned(cpKey),
    expect: AssignmentRejectCode.BadSignature,
  },
  { name: 'no pinned key: nothing is trusted on first use', input: received(message(documentOf(), cpKey)), keys: pinned(), expect: AssignmentRejectCode.NoPinnedKey },
  {
    name: 'version 1 (unsigned)',
    input: received({ taskId: 'task-v1', deviceId: DEVICE, action: 'install' }, 1),
    keys: pinned(cpKey),
    expect: AssignmentRejectCode.Unsigned,
    taskId: 'task-v1',
  },
  { name: 'an unknown version', input: received(message(documentOf(), cpKey), 3), keys: pinned(cpKey), expect: AssignmentRejectCode.UnsupportedVersion, taskId: 'task-1' },
  { name: 'not JSON', input: { subject: 's', version: 2, body: { ok: false, error: 'payload is not valid JSON' } }, keys: pinned(cpKey), expect: AssignmentRejectCode.Malformed, taskId: null },
  {
    name: 'not the schema (no endorsements list)',
    input: received({ ...message(documentOf(), cpKey), endorsements: undefined }),
    keys: pinned(cpKey),
    expect: AssignmentRejectCode.Malformed,
    message: /endorsements/,
  },
  {
    name: 'a new key endorsed by the pinned one',
    input: received(message(documentOf(), nextKey, [endorsement])),
    keys: pinned(cpKey),
    expect: 'accepted',
  },
  {
    name: 'a new key whose endorsement expired',
    input: received(message(documentOf(), nextKey, [signEndorsement(nextKey.publicKey, cpKey, window(NOW - 48 * HOUR, NOW - HOUR))])),
    keys: pinned(cpKey),
    expect: AssignmentRejectCode.UnknownKey,
    message: /not now/,
  },
  {
    name: 'a new key endorsed by a key the device does not pin',
    input: received(message(documentOf(), nextKey, [signEndorsement(nextKey.publicKey, otherKey, window(NOW - HOUR, NOW + HOUR))])),
    keys: pinned(cpKey),
    expect: AssignmentRejectCode.UnknownKey,
    message: /is not pinned/,
  },
  {
    name: 'an endorsement altered to name another key',
    input: received(message(documentOf(), otherKey, [{ ...endorsement, keyId: otherKey.keyId, publicKeyDer: publicKeyDerOf(otherKey.publicKey) }])),
    keys: pinned(cpKey),
    expect: AssignmentRejectCode.UnknownKey,
    message: /does not verify/,
  },
  {
    name: 'signed by a retired key',
    input: received(message(documentOf(), cpKey)),
    keys: { keys: pinned(nextKey).keys, retiredKeyIds: [cpKey.keyId] },
    expect: AssignmentRejectCode.UnknownKey,
    message: /retired/,
  },
];

for (const c of cases) {
  test(`checkAssignment: ${c.name}`, () => {
    const result: AssignmentCheck = checkAssignment(c.input, { keys: c.keys }, DEVICE, NOW);
    if (c.expect === 'accepted') {
      assert.equal(result.ok, true, JSON.stringify(result));
      return;
    }
    assert.equal(result.ok, false, 'rejected');
    if (result.ok) return;
    assert.equal(result.code, c.expect, result.message);
    if (c.taskId !== undefined) assert.equal(result.taskId, c.taskId);
    if (c.message) assert.match(result.message, c.message);
  });
}

test('checkAssignment: what runs comes from the signed document, never from the unsigned part', () => {
  const m = message(documentOf(), cpKey) as TaskAssignedV2 & { package: Record<string, unknown> };
  // An injected unsigned copy of the command is not part of the schema and never reaches the task.
  (m.package as Record<string, unknown>).installCommand = '/usr/bin/evil';
  const result = checkAssignment(received(m), { keys: pinned(cpKey) }, DEVICE, NOW);
  assert.ok(result.ok);
  assert.equal(result.task.package.installCommand, '/bin/sh');
  assert.deepEqual(result.task.package.installArgs, ['-c', 'touch /tmp/installed']);
  assert.equal(result.task.package.manifestHash, 'b'.repeat(64));
  assert.equal(result.task.package.downloadUrl, 'http://origin.test/v1/content/x');
  assert.equal(result.task.signedBy, cpKey.keyId);
  assert.deepEqual([result.learnedKeyIds, result.retiredKeyIds], [[], []]);
});

test('checkAssignment: an endorsed key is pinned; a retirement the new key signed drops the old one', () => {
  const first = checkAssignment(received(message(documentOf(), nextKey, [endorsement])), { keys: pinned(cpKey) }, DEVICE, NOW);
  assert.ok(first.ok);
  assert.deepEqual(first.learnedKeyIds, [nextKey.keyId]);
  assert.deepEqual(first.keys.keys.map((k) => k.keyId), [cpKey.keyId, nextKey.keyId], 'overlap: both keys verify');
  // During the overlap the old key still verifies.
  assert.ok(checkAssignment(received(message(documentOf({ taskId: 'task-2' }), cpKey)), { keys: first.keys }, DEVICE, NOW).ok);

  const retiring = checkAssignment(received(message(documentOf({ taskId: 'task-3', retiredKeyIds: [cpKey.keyId] }), nextKey, [endorsement])), { keys: first.keys }, DEVICE, NOW);
  assert.ok(retiring.ok);
  assert.deepEqual(retiring.retiredKeyIds, [cpKey.keyId]);
  assert.deepEqual(retiring.keys, { keys: [recordOf(nextKey)], retiredKeyIds: [cpKey.keyId] });
  // After the retirement only the new key is accepted, and the old key cannot endorse its way back.
  const old = checkAssignment(received(message(documentOf({ taskId: 'task-4' }), cpKey)), { keys: retiring.keys }, DEVICE, NOW);
  assert.equal(old.ok ? 'accepted' : old.code, AssignmentRejectCode.UnknownKey);
  const viaOld = checkAssignment(received(message(documentOf({ taskId: 'task-5' }), otherKey, [signEndorsement(otherKey.publicKey, cpKey, window(NOW - HOUR, NOW + HOUR))])), { keys: retiring.keys }, DEVICE, NOW);
  assert.equal(viaOld.ok ? 'accepted' : viaOld.code, AssignmentRejectCode.UnknownKey);
});

test('checkAssignment: a device pinned to a key two rotations back follows the whole chain', () => {
  const third = generateSigningKey();
  const chain = [endorsement, signEndorsement(third.publicKey, nextKey, window(NOW - HOUR, NOW + HOUR))];
  const result = checkAssignment(received(message(documentOf({ retiredKeyIds: [cpKey.keyId] }), third, chain)), { keys: pinned(cpKey) }, DEVICE, NOW);
  assert.ok(result.ok, JSON.stringify(result));
  assert.deepEqual(result.learnedKeyIds, [nextKey.keyId, third.keyId]);
  assert.deepEqual(result.keys.keys.map((k) => k.keyId), [nextKey.keyId, third.keyId]);
});

test('checkAssignment: an unreadable key file is named in the rejection', () => {
  const result = checkAssignment(received(message(documentOf(), cpKey)), { keys: pinned(), problem: 'control-plane-keys.json is not JSON' }, DEVICE, NOW);
  assert.equal(result.ok, false);
  if (!result.ok) assert.match(result.message, /control-plane-keys.json is not JSON/);
});
