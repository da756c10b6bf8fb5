import { z } from 'zod';
import { idSchema, isoTimeSchema, platformSchema, sha256HexSchema } from '../common';
import { resolvedSettingsSchema } from '../settings';
import { SubjectBase, versioned } from '../subjects';

export const taskActionSchema = z.enum(['install', 'cache-only']);
export type TaskAction = z.infer<typeof taskActionSchema>;

/** What an agent needs to fetch, verify and install a package. Only ID, size and hash identify content. */
export const assignedPackageSchema = z.object({
  packageId: idSchema,
  name: z.string(),
  version: z.string(),
  platform: platformSchema,
  contentId: sha256HexSchema,
  size: z.number().int().nonnegative(),
  /** Absolute URL of the content at the origin (the WAN source). */
  downloadUrl: z.string().url(),
  installCommand: z.string(),
  installArgs: z.array(z.string()),
  successExitCodes: z.array(z.number().int()),
  timeoutSeconds: z.number().int().positive(),
});
export type AssignedPackage = z.infer<typeof assignedPackageSchema>;

/**
 * A task assigned to one device. Published through the tasks service's outbox into the
 * TASK_ASSIGNMENTS stream, so an agent that is offline gets it when it comes back.
 */
export const taskAssignedV1Schema = z.object({
  taskId: idSchema,
  deviceId: idSchema,
  action: taskActionSchema,
  package: assignedPackageSchema,
  settings: resolvedSettingsSchema,
  issuedAt: isoTimeSchema,
});
export type TaskAssignedV1 = z.infer<typeof taskAssignedV1Schema>;

/**
 * Version 1: unsigned. Agents no longer act on it (they reject it with ASSIGNMENT.UNSIGNED): anyone
 * able to publish on its subject could make a device run any command. Kept for `deviceFilter`, for
 * reading old streams, and so that a rejection can name what it rejected.
 */
export const TaskAssigned = {
  version: 1,
  schema: taskAssignedV1Schema,
  subject: (deviceId: string) => versioned(SubjectBase.taskAssigned, 1, deviceId),
  /** Every version addressed to one device: an agent listens here and rejects versions it does not know. */
  deviceFilter: (deviceId: string) => `${versioned(SubjectBase.taskAssigned, 1, deviceId).replace('.v1.', '.*.')}`,
} as const;

/**
 * The signed part of an assignment: everything an agent acts on. The tasks service signs it per
 * device with its active Ed25519 key over the canonical bytes `assignmentSigningBytes` (in
 * @fleetcast/content) builds; the agent verifies it against its pinned keys before it downloads or
 * runs anything, and takes the command, arguments and content from here only.
 */
export const assignmentDocumentSchema = z.object({
  taskId: idSchema,
  deviceId: idSchema,
  action: taskActionSchema,
  package: z.object({
    contentId: sha256HexSchema,
    size: z.number().int().nonnegative(),
    /** SHA-256 (hex) of the signed manifest's signing bytes: the one manifest the content is verified against. */
    manifestHash: sha256HexSchema,
    installCommand: z.string(),
    installArgs: z.array(z.string()),
    successExitCodes: z.array(z.number().int()),
    timeoutSeconds: z.number().int().positive(),
    /**
     * Present (true) for a confidential package: the content is sealed, and the agent installs from
     * what it opens with the key it asks for (TasksDeviceRpc.getContentKey). Signed, so that no one
     * can make an agent install the ciphertext as it is, or ask for a key it has no use for.
     */
    confidential: z.literal(true).optional(),
  }),
  /** When this copy was signed (a resend is signed again). */
  issuedAt: isoTimeSchema,
  /** The task's start: not to be acted on before. */
  notBefore: isoTimeSchema,
  /** The task's start plus the assignment validity (30 days by default, the stream's retention). */
  expiresAt: isoTimeSchema,
  /** Control-plane keys retired by the time of signing: an agent that accepts this stops trusting them. */
  retiredKeyIds: z.array(z.string().max(64)).max(100),
  /**
   * The device's attempt at the task: absent for the first, 2 and up after each retry of a failed
   * device (`POST /v1/tasks/{id}/retry`). An agent that holds the task failed starts it again for a
   * higher attempt; signed (when present), so a copy cannot be replayed as a retry.
   */
  attempt: z.number().int().min(2).max(10_000).optional(),
});
export type AssignmentDocumentV2 = z.infer<typeof assignmentDocumentSchema>;

export const signedAssignmentSchema = z.object({
  document: assignmentDocumentSchema,
  /** The signing key's ID (first 16 hex characters of the SHA-256 of its SPKI DER). */
  keyId: z.string().min(1).max(64),
  /** Ed25519 signature, base64. */
  signature: z.string().max(200),
});

/**
 * A control-plane key vouched for by an older one (signature by `endorsedBy` over the canonical bytes
 * `endorsementSigningBytes` builds). An agent that pins the older key adds the endorsed one to its
 * pinned set; that is how a key rotation reaches devices without a key fetched unauthenticated.
 */
export const keyEndorsementSchema = z.object({
  keyId: z.string().min(1).max(64),
  /** SPKI DER, base64. */
  publicKeyDer: z.string().max(200),
  endorsedBy: z.string().min(1).max(64),
  notBefore: isoTimeSchema,
  expiresAt: isoTimeSchema,
  /** Ed25519 signature by `endorsedBy`, base64. */
  signature: z.string().max(200),
});
export type KeyEndorsementV2 = z.infer<typeof keyEndorsementSchema>;

/**
 * Version 2: the signed assignment, the endorsements that lead from older keys to its signing key
 * (oldest first; empty when no rotation happened), and what is only descriptive or advisory and
 * therefore unsigned: the package's name and where to download it (the content is verified against
 * the signed manifest whatever its source), and the resolved settings.
 */
export const taskAssignedV2Schema = z.object({
  assignment: signedAssignmentSchema,
  endorsements: z.array(keyEndorsementSchema).max(16),
  package: assignedPackageSchema.pick({ packageId: true, name: true, version: true, platform: true, downloadUrl: true }),
  settings: resolvedSettingsSchema,
});
export type TaskAssignedV2 = z.infer<typeof taskAssignedV2Schema>;

export const TaskAssignedV2 = {
  version: 2,
  schema: taskAssignedV2Schema,
  subject: (deviceId: string) => versioned(SubjectBase.taskAssigned, 2, deviceId),
} as const;

/**
 * Why an agent refused an assignment: the `reason.code` of the `failed` status report it sends when
 * the task ID can be read, so that the task's device list shows it. Nothing of a refused
 * assignment is downloaded or run.
 */
export const AssignmentRejectCode = {
  /** Version 1 (unsigned): no longer acted on. */
  Unsigned: 'ASSIGNMENT.UNSIGNED',
  /** A version this agent does not know. */
  UnsupportedVersion: 'ASSIGNMENT.UNSUPPORTED_VERSION',
  /** Not JSON, or not the version's schema. */
  Malformed: 'ASSIGNMENT.MALFORMED',
  /** The device pins no control-plane key (not enrolled, no `--control-plane-key`): it trusts nothing. */
  NoPinnedKey: 'ASSIGNMENT.NO_PINNED_KEY',
  /** Signed by a key the device does not pin, retired, or not linked to a pinned key by a valid endorsement. */
  UnknownKey: 'ASSIGNMENT.UNKNOWN_KEY',
  /** The signature does not cover the document as received: altered, or signed by another key. */
  BadSignature: 'ASSIGNMENT.BAD_SIGNATURE',
  /** Signed for another device. */
  WrongDevice: 'ASSIGNMENT.WRONG_DEVICE',
  /** Past its expiry. */
  Expired: 'ASSIGNMENT.EXPIRED',
  /** Before its start (or the device's clock is behind). */
  NotYetValid: 'ASSIGNMENT.NOT_YET_VALID',
} as const;
export type AssignmentRejectCode = (typeof AssignmentRejectCode)[keyof typeof AssignmentRejectCode];
