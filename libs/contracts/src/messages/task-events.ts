import { z } from 'zod';
import { idSchema, isoTimeSchema } from '../common';
import { SubjectBase, versioned } from '../subjects';
import { taskActionSchema } from './task-assigned';

/**
 * A task is over: every target reached a final state. Published once, through the tasks service's
 * outbox in the transaction that marks the task completed, into TASK_EVENTS.
 */
export const taskCompletedV1Schema = z.object({
  taskId: idSchema,
  name: z.string(),
  packageId: idSchema,
  action: taskActionSchema,
  devices: z.number().int().nonnegative(),
  succeeded: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  completedAt: isoTimeSchema,
});
export type TaskCompletedV1 = z.infer<typeof taskCompletedV1Schema>;

export const TaskCompleted = {
  version: 1,
  schema: taskCompletedV1Schema,
  subject: () => versioned(SubjectBase.taskCompleted, 1),
} as const;

/**
 * A target of a task failed, with the reason it reported. Published each time a device enters the
 * failed state (once per failure, not per repeated report), through the tasks outbox.
 */
export const deviceTaskFailedV1Schema = z.object({
  taskId: idSchema,
  deviceId: idSchema,
  reason: z.object({ code: z.string(), message: z.string() }).nullable(),
  occurredAt: isoTimeSchema,
});
export type DeviceTaskFailedV1 = z.infer<typeof deviceTaskFailedV1Schema>;

export const DeviceTaskFailed = {
  version: 1,
  schema: deviceTaskFailedV1Schema,
  subject: () => versioned(SubjectBase.deviceTaskFailed, 1),
} as const;
