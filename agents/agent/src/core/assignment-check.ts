import { z } from 'zod';
import {
  assignedPackageSchema,
  AssignmentRejectCode,
  idSchema,
  isoTimeSchema,
  sha256HexSchema,
  TaskAssigned,
  TaskAssignedV2,
  taskAssignedV1Schema,
  taskAssignedV2Schema,
} from '@fleetcast/contracts';
import { assignmentFromWire, endorsementFromWire, verifyAssignmentSignature } from '@fleetcast/content';
import { CLOCK_SKEW_MS, followEndorsements, PinnedKeySet, pinnedKey, retireKeys } from './key-set';

/**
 * What the agent runs for a task: the assignment's own shape (version 1's, which the rest of the
 * agent was built on), every field it acts on taken from the verified document. `signedBy` and
 * `manifestHash` are absent only on tasks accepted before assignments were signed, which the agent
 * no longer resumes.
 */
export const acceptedTaskSchema = taskAssignedV1Schema.extend({
  /** `confidential` (signed): the content is sealed and is opened with its key at install. */
  package: assignedPackageSchema.extend({ manifestHash: sha256HexSchema.optional(), confidential: z.literal(true).optional() }),
  /** The control-plane key whose signature the agent verified. */
  signedBy: z.string().optional(),
  expiresAt: isoTimeSchema.optional(),
  /** The control plane's attempt (signed; absent: the first). */
  attempt: z.number().int().min(2).optional(),
});
export type AcceptedTask = z.infer<typeof acceptedTaskSchema>;

/** An assignment message as the NATS adapter hands it over: its subject's version and its decoded body. */
export interface ReceivedAssignment {
  subject: string;
  version: number | null;
  body: { ok: true; value: unknown } | { ok: false; error: string };
}

/** The pinned keys, or why there are none to use (an unreadable key file). */
export interface TrustAnchors {
  keys: PinnedKeySet;
  problem?: string;
}

export type AssignmentCheck =
  | {
      ok: true;
      task: AcceptedTask;
      /** The pinned set after this assignment: keys learned from its endorsements, retired keys dropped. */
      keys: PinnedKeySet;
      learnedKeyIds: string[];
      retiredKeyIds: string[];
    }
  | {
      ok: false;
      code: AssignmentRejectCode;
      message: string;
      /** The task the message names, when that much can be read: the rejection is reported for it. */
      taskId: string | null;
    };

/**
 * Decides whether the agent acts on an assignment, before anything is downloaded or run. It must be
 * version 2, well formed, signed by a key the device pins (directly, or through endorsements that
 * start at a pinned key), unaltered, for this device, and within its validity window (with
 * CLOCK_SKEW_MS of tolerance). The signature is checked before anything the document says is
 * believed, so a forged document is reported as such, never as expired or misaddressed.
 * Pure: the keys and the time are parameters; nothing throws.
 */
export function checkAssignment(received: ReceivedAssignment, trust: TrustAnchors, deviceId: string, nowMs: number): AssignmentCheck {
  const taskId = taskIdOf(received);
  const reject = (code: AssignmentRejectCode, message: string): AssignmentCheck => ({ ok: false, code, message, taskId });

  if (received.version === TaskAssigned.version) {
    return reject(AssignmentRejectCode.Unsigned, 'assignment version 1 is unsigned; this agent runs only assignments signed by the control plane (version 2)');
  }
  if (received.version !== TaskAssignedV2.version) return reject(AssignmentRejectCode.UnsupportedVersion, `unsupported assignment version ${received.version ?? '(none)'} on ${received.subject}`);
  if (!received.body.ok) return reject(AssignmentRejectCode.Malformed, received.body.error);
  const parsed = taskAssignedV2Schema.safeParse(received.body.value);
  if (!parsed.success) return reject(AssignmentRejectCode.Malformed, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const message = parsed.data;
  const signed = assignmentFromWire(message.assignment);
  const doc = message.assignment.document;

  if (trust.keys.keys.length === 0) {
    return reject(AssignmentRejectCode.NoPinnedKey, `no control-plane key is pinned${trust.problem ? ` (${trust.problem})` : ''}: enroll the device or start it with --control-plane-key`);
  }
  const followed = followEndorsements(trust.keys, message.endorsements.map(endorsementFromWire), nowMs);
  const key = pinnedKey(followed.set, signed.keyId);
  if (key === undefined) {
    const why = trust.keys.retiredKeyIds.includes(signed.keyId) ? 'a key the control plane retired' : 'a key this device does not pin';
    const chain = followed.problems.length > 0 ? `; ${followed.problems.join('; ')}` : '';
    return reject(AssignmentRejectCode.UnknownKey, `signed by ${signed.keyId}, ${why} (pinned: ${trust.keys.keys.map((k) => k.keyId).join(', ')})${chain}`);
  }
  if (!verifyAssignmentSignature(signed, key)) {
    return reject(AssignmentRejectCode.BadSignature, `the signature by ${signed.keyId} does not cover the assignment as received: it was altered, or signed by another key`);
  }
  if (doc.deviceId !== deviceId) return reject(AssignmentRejectCode.WrongDevice, `signed for device ${doc.deviceId}, not this device (${deviceId})`);
  if (nowMs + CLOCK_SKEW_MS < Date.parse(doc.notBefore)) {
    return reject(AssignmentRejectCode.NotYetValid, `valid from ${doc.notBefore}; this device's clock says ${new Date(nowMs).toISOString()}`);
  }
  if (nowMs - CLOCK_SKEW_MS >= Date.parse(doc.expiresAt)) {
    return reject(AssignmentRejectCode.Expired, `expired at ${doc.expiresAt}; this device's clock says ${new Date(nowMs).toISOString()}`);
  }

  const retired = retireKeys(followed.set, doc.retiredKeyIds, signed.keyId);
  return {
    ok: true,
    keys: retired.set,
    learnedKeyIds: followed.learned,
    retiredKeyIds: retired.retired,
    task: {
      taskId: doc.taskId,
      deviceId: doc.deviceId,
      action: doc.action,
      package: {
        // Descriptive and where to download: not signed, and not trusted for anything but that.
        packageId: message.package.packageId,
        name: message.package.name,
        version: message.package.version,
        platform: message.package.platform,
        downloadUrl: message.package.downloadUrl,
        // What is verified and run: from the signed document only.
        contentId: doc.package.contentId,
        size: doc.package.size,
        manifestHash: doc.package.manifestHash,
        installCommand: doc.package.installCommand,
        installArgs: [...doc.package.installArgs],
        successExitCodes: [...doc.package.successExitCodes],
        timeoutSeconds: doc.package.timeoutSeconds,
        ...(doc.package.confidential === true ? { confidential: true as const } : {}),
      },
      settings: message.settings,
      issuedAt: doc.issuedAt,
      expiresAt: doc.expiresAt,
      signedBy: signed.keyId,
      ...(doc.attempt !== undefined ? { attempt: doc.attempt } : {}),
    },
  };
}

/** The task ID a message names (signed document, or version 1's field), if it is a valid ID; for reporting a rejection. */
export function taskIdOf(received: ReceivedAssignment): string | null {
  if (!received.body.ok || typeof received.body.value !== 'object' || received.body.value === null) return null;
  const value = received.body.value as { taskId?: unknown; assignment?: { document?: { taskId?: unknown } } };
  const candidate = value.assignment?.document?.taskId ?? value.taskId;
  return idSchema.safeParse(candidate).success ? (candidate as string) : null;
}
