import { z } from 'zod';
import { errorBodySchema } from '../errors';
import { SubjectBase, versioned } from '../subjects';

/** A message a consumer could not accept, kept with the reason so an operator can inspect it. */
export const deadLetteredV1Schema = z.object({
  consumer: z.string(),
  subject: z.string(),
  reason: errorBodySchema,
  /** The original payload, base64. */
  data: z.string(),
  headers: z.record(z.string(), z.array(z.string())),
  deadLetteredAt: z.string(),
});
export type DeadLetteredV1 = z.infer<typeof deadLetteredV1Schema>;

export const DeadLettered = {
  version: 1,
  schema: deadLetteredV1Schema,
  subject: (consumer: string) => versioned(SubjectBase.deadLettered, 1, consumer),
} as const;
