import { idSchema, TaskCancel, taskCancelV1Schema } from '@fleetcast/contracts';
import { endorsementFromWire, verifyCancellationSignature } from '@fleetcast/content';
import { followEndorsements, PinnedKeySet, pinnedKey } from './key-set';
import type { ReceivedAssignment, TrustAnchors } from './assignment-check';

/** Why the agent ignored a cancellation: counted and logged, never reported for the task (a forger could otherwise mark tasks). */
export const CancellationRejectCode = {
  UnsupportedVersion: 'CANCEL.UNSUPPORTED_VERSION',
  Malformed: 'CANCEL.MALFORMED',
  NoPinnedKey: 'CANCEL.NO_PINNED_KEY',
  UnknownKey: 'CANCEL.UNKNOWN_KEY',
  BadSignature: 'CANCEL.BAD_SIGNATURE',
  WrongDevice: 'CANCEL.WRONG_DEVICE',
} as const;
export type CancellationRejectCode = (typeof CancellationRejectCode)[keyof typeof CancellationRejectCode];

export type CancellationCheck =
  | { ok: true; taskId: string; signedBy: string; issuedAt: string; keys: PinnedKeySet }
  | { ok: false; code: CancellationRejectCode; message: string; taskId: string | null };

/**
 * Decides whether the agent acts on a cancellation, as `checkAssignment` decides for an assignment:
 * version 1, well formed, signed by a key the device pins (directly or through endorsements from a
 * pinned key), unaltered (the signature covers the cancellation's own domain-tagged bytes, so no
 * assignment signature passes), and for this device. It does not expire: a cancellation holds for
 * as long as it exists. Pure: keys and nothing else are parameters; nothing throws.
 */
export function checkCancellation(received: ReceivedAssignment, trust: TrustAnchors, deviceId: string, nowMs: number): CancellationCheck {
  const taskId = cancelledTaskIdOf(received);
  const reject = (code: CancellationRejectCode, message: string): CancellationCheck => ({ ok: false, code, message, taskId });
  if (received.version !== TaskCancel.version) return reject(CancellationRejectCode.UnsupportedVersion, `unsupported cancellation version ${received.version ?? '(none)'} on ${received.subject}`);
  if (!received.body.ok) return reject(CancellationRejectCode.Malformed, received.body.error);
  const parsed = taskCancelV1Schema.safeParse(received.body.value);
  if (!parsed.success) return reject(CancellationRejectCode.Malformed, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const { cancellation, endorsements } = parsed.data;
  if (trust.keys.keys.length === 0) return reject(CancellationRejectCode.NoPinnedKey, `no control-plane key is pinned${trust.problem ? ` (${trust.problem})` : ''}`);
  const followed = followEndorsements(trust.keys, endorsements.map(endorsementFromWire), nowMs);
  const key = pinnedKey(followed.set, cancellation.keyId);
  if (key === undefined) return reject(CancellationRejectCode.UnknownKey, `signed by ${cancellation.keyId}, a key this device does not pin`);
  const signed = { value: cancellation.document, keyId: cancellation.keyId, signature: new Uint8Array(Buffer.from(cancellation.signature, 'base64')) };
  if (!verifyCancellationSignature(signed, key)) {
    return reject(CancellationRejectCode.BadSignature, `the signature by ${cancellation.keyId} does not cover the cancellation as received: forged or altered`);
  }
  if (cancellation.document.deviceId !== deviceId) return reject(CancellationRejectCode.WrongDevice, `signed for device ${cancellation.document.deviceId}, not this device (${deviceId})`);
  return { ok: true, taskId: cancellation.document.taskId, signedBy: cancellation.keyId, issuedAt: cancellation.document.issuedAt, keys: followed.set };
}

/** The task a cancellation names, if it can be read (for the log). */
function cancelledTaskIdOf(received: ReceivedAssignment): string | null {
  if (!received.body.ok || typeof received.body.value !== 'object' || received.body.value === null) return null;
  const candidate = (received.body.value as { cancellation?: { document?: { taskId?: unknown } } }).cancellation?.document?.taskId;
  return idSchema.safeParse(candidate).success ? (candidate as string) : null;
}
