import { z } from 'zod';
import { bytesBySourceSchema, idSchema, isoTimeSchema } from '../common';
import { SubjectBase, versioned } from '../subjects';
import { deviceTaskStateSchema, DeviceTaskState } from './device-status';

/**
 * Live updates of tasks, for the gateway's event stream (`GET /v1/events`): published by the tasks
 * service after the change commits, on core NATS only (no stream): a client that was not listening
 * reads the task's summary instead. The last subject token is the task ID, so that a listener for
 * one task is sent nothing else.
 */

const countsSchema = z.record(deviceTaskStateSchema, z.number().int().nonnegative()) as z.ZodType<Record<DeviceTaskState, number>>;

/** A task's status or its counts changed (a device changed state, the task was cancelled, retried, completed). */
export const taskChangedV1Schema = z.object({
  taskId: idSchema,
  status: z.enum(['scheduled', 'active', 'completed', 'cancelled']),
  total: z.number().int().nonnegative(),
  counts: countsSchema,
  bytes: bytesBySourceSchema,
  at: isoTimeSchema,
});
export type TaskChangedV1 = z.infer<typeof taskChangedV1Schema>;

export const TaskChanged = {
  version: 1,
  schema: taskChangedV1Schema,
  subject: (taskId: string) => versioned(SubjectBase.taskChanged, 1, taskId),
  /** Every task's changes (a listener without a task filter). */
  allTasks: () => `${versioned(SubjectBase.taskChanged, 1)}.*`,
} as const;

/** One target's state, reason or bytes changed in a task (a report applied, a cancel, a retry). */
export const deviceTaskChangedV1Schema = z.object({
  taskId: idSchema,
  deviceId: idSchema,
  state: deviceTaskStateSchema,
  previousState: deviceTaskStateSchema,
  reason: z.object({ code: z.string(), message: z.string() }).nullable(),
  /** Running totals by source (origin: over the WAN). */
  bytes: bytesBySourceSchema,
  at: isoTimeSchema,
});
export type DeviceTaskChangedV1 = z.infer<typeof deviceTaskChangedV1Schema>;

export const DeviceTaskChanged = {
  version: 1,
  schema: deviceTaskChangedV1Schema,
  subject: (taskId: string) => versioned(SubjectBase.deviceTaskChanged, 1, taskId),
  allTasks: () => `${versioned(SubjectBase.deviceTaskChanged, 1)}.*`,
} as const;
