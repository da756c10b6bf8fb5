import { z } from 'zod';
import { idSchema, isoTimeSchema } from '../common';
import { SubjectBase, versioned } from '../subjects';
import { activationResultSchema } from '../rpc/activation.rpc';

/**
 * An activation completed: its result. Published once per activation, through the licensing
 * outbox in the transaction that marks it completed, into LICENSING_EVENTS.
 */
export const activationCompletedV1Schema = z.object({
  activationId: idSchema,
  startedBy: z.string(),
  result: activationResultSchema,
  completedAt: isoTimeSchema,
});
export type ActivationCompletedV1 = z.infer<typeof activationCompletedV1Schema>;

export const ActivationCompleted = {
  version: 1,
  schema: activationCompletedV1Schema,
  subject: () => versioned(SubjectBase.activationCompleted, 1),
} as const;
