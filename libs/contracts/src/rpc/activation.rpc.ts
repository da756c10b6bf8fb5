import { z } from 'zod';
import { idSchema } from '../common';
import { defineRpc } from './define';

/**
 * Activation: the step that puts the fleet's configuration into force, run by the licensing service.
 * Its steps, in order: `license` (a valid license is installed), `topology` (the uploaded topology,
 * or one generated from the inventory and uploaded), `content` (every package's content is on the
 * origin, checked one page at a time), `devices` (every enrolled device is marked active under this
 * activation). Each step's progress is stored as it goes: killed half-way, the next run (or another
 * instance) takes it up where it was, and nothing is done twice.
 */
export const activationStepNameSchema = z.enum(['license', 'topology', 'content', 'devices']);
export type ActivationStepName = z.infer<typeof activationStepNameSchema>;

export const activationStepSchema = z.object({
  name: activationStepNameSchema,
  state: z.enum(['pending', 'running', 'done', 'failed']),
  /** What the step found or why it failed, in words. */
  detail: z.string().nullable(),
  /** Progress of a step that goes through items (packages): done of total; null for the others. */
  done: z.number().int().nonnegative().nullable(),
  total: z.number().int().nonnegative().nullable(),
  finishedAt: z.string().nullable(),
});
export type ActivationStep = z.infer<typeof activationStepSchema>;

/** At most this many package IDs are listed as missing content (the count says how many in all). */
export const MAX_LISTED_MISSING_PACKAGES = 100;

export const activationResultSchema = z.object({
  licenseId: z.string(),
  topologyVersion: z.number().int().positive(),
  /** True when no topology was uploaded and this activation generated and uploaded one. */
  topologyGenerated: z.boolean(),
  packages: z.object({
    checked: z.number().int().nonnegative(),
    available: z.number().int().nonnegative(),
    /** Packages without content yet (never uploaded): nothing to check. */
    withoutContent: z.number().int().nonnegative(),
    missingCount: z.number().int().nonnegative(),
    /** Packages whose content the origin no longer holds (upload it again), at most MAX_LISTED_MISSING_PACKAGES. */
    missing: z.array(idSchema),
  }),
  /** Enrolled devices marked active by this activation, and all active ones. */
  devicesActivated: z.number().int().nonnegative(),
  devicesActive: z.number().int().nonnegative(),
});
export type ActivationResult = z.infer<typeof activationResultSchema>;

export const activationSchema = z.object({
  id: idSchema,
  state: z.enum(['running', 'completed', 'failed']),
  startedBy: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  steps: z.array(activationStepSchema),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  result: activationResultSchema.nullable(),
});
export type Activation = z.infer<typeof activationSchema>;

export const startActivationSchema = z.object({
  /** Who starts it (the API token's name), as the audit log records it. */
  startedBy: z.string().min(1).max(200),
  /**
   * The origin's addresses, needed only when no topology was uploaded: the generated topology's
   * central office is the one that holds them.
   */
  originAddresses: z.array(z.string().ip()).min(1).max(16).optional(),
});

export const ActivationRpc = {
  /** Starts an activation, or returns the one running (one at a time; a finished one can be run again). */
  start: defineRpc('licensing.cmd.activation.start.v1', startActivationSchema, activationSchema),
  /** One activation, or the latest when no ID is given. */
  get: defineRpc('licensing.qry.activation.get.v1', z.object({ id: idSchema.optional() }), activationSchema),
} as const;
