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

export const TaskAssigned = {
  version: 1,
  schema: taskAssignedV1Schema,
  subject: (deviceId: string) => versioned(SubjectBase.taskAssigned, 1, deviceId),
  /** Every version addressed to one device: an agent listens here and rejects versions it does not know. */
  deviceFilter: (deviceId: string) => `${versioned(SubjectBase.taskAssigned, 1, deviceId).replace('.v1.', '.*.')}`,
} as const;
