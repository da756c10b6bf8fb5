import { z } from 'zod';
import { idSchema, isoTimeSchema } from '../common';
import { SubjectBase, versioned } from '../subjects';
import { keyEndorsementSchema } from './task-assigned';

/**
 * The signed part of a cancellation: the one task and the one device it stops. The tasks service
 * signs it per device with its active key over `cancellationSigningBytes` (in @fleetcast/content, a
 * domain tag of its own, so that no assignment signature can pass for one); the agent verifies it
 * against its pinned keys exactly as it verifies an assignment before it stops anything.
 * It does not expire: a cancellation holds for as long as the stream keeps it, and the agent
 * remembers the task as cancelled after that.
 */
export const cancellationDocumentSchema = z.object({
  taskId: idSchema,
  deviceId: idSchema,
  /** When the control plane signed this copy. */
  issuedAt: isoTimeSchema,
  /** Control-plane keys retired by the time of signing (as in an assignment). */
  retiredKeyIds: z.array(z.string().max(64)).max(100),
});
export type CancellationDocumentV1 = z.infer<typeof cancellationDocumentSchema>;

/**
 * A task cancelled for one device: the signed document and the endorsements that lead from older
 * keys to its signing key. Published through the tasks service's outbox into TASK_ASSIGNMENTS, next
 * to the device's assignments, so an agent that is offline gets it when it comes back, after the
 * assignment it cancels.
 */
export const taskCancelV1Schema = z.object({
  cancellation: z.object({
    document: cancellationDocumentSchema,
    keyId: z.string().min(1).max(64),
    /** Ed25519 signature, base64. */
    signature: z.string().max(200),
  }),
  endorsements: z.array(keyEndorsementSchema).max(16),
});
export type TaskCancelV1 = z.infer<typeof taskCancelV1Schema>;

export const TaskCancel = {
  version: 1,
  schema: taskCancelV1Schema,
  subject: (deviceId: string) => versioned(SubjectBase.taskCancel, 1, deviceId),
} as const;

/** The reason code of a device task cancelled by an operator (history, reports, summaries). */
export const TASK_CANCELLED_REASON = 'TASK.CANCELLED';
/** The reason code of the history entry that puts a failed device back to `pending` for a new attempt. */
export const TASK_RETRIED_REASON = 'TASK.RETRIED';
