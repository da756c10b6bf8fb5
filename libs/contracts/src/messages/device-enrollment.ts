import { z } from 'zod';
import { idSchema, isoTimeSchema, platformSchema } from '../common';
import { SubjectBase, versioned } from '../subjects';

/** A device enrolled: it holds a seat and NATS credentials of its own. Through the licensing outbox. */
export const deviceEnrolledV1Schema = z.object({
  deviceId: idSchema,
  hostname: z.string(),
  platform: platformSchema,
  agentVersion: z.string(),
  group: z.string().nullable(),
  /** The enrollment token used (its ID, never its secret). */
  tokenId: idSchema,
  occurredAt: isoTimeSchema,
});
export type DeviceEnrolledV1 = z.infer<typeof deviceEnrolledV1Schema>;

export const DeviceEnrolled = {
  version: 1,
  schema: deviceEnrolledV1Schema,
  subject: () => versioned(SubjectBase.deviceEnrolled, 1),
} as const;

/** A device retired: its credentials are revoked and its seat released. Through the licensing outbox. */
export const deviceRetiredV1Schema = z.object({
  deviceId: idSchema,
  occurredAt: isoTimeSchema,
});
export type DeviceRetiredV1 = z.infer<typeof deviceRetiredV1Schema>;

export const DeviceRetired = {
  version: 1,
  schema: deviceRetiredV1Schema,
  subject: () => versioned(SubjectBase.deviceRetired, 1),
} as const;
