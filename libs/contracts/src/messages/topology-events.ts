import { z } from 'zod';
import { idSchema, isoTimeSchema } from '../common';
import { SubjectBase, versioned } from '../subjects';
import { topologyChangeSummarySchema } from '../topology-document';

/**
 * A new topology version was stored: published once per version through the topology service's
 * outbox into TOPOLOGY_EVENTS. Agents listen (core NATS on the same subject) and ask for their
 * office's policy again at once; services that cache placements drop them.
 */
export const topologyChangedV1Schema = z.object({
  version: z.number().int().positive(),
  /** Null for the first version. */
  previousVersion: z.number().int().positive().nullable(),
  author: z.string(),
  comment: z.string().nullable(),
  summary: topologyChangeSummarySchema,
  /** Devices whose office changed with this version (each also gets a `device.placed` event). */
  devicesMoved: z.number().int().nonnegative(),
  changedAt: isoTimeSchema,
});
export type TopologyChangedV1 = z.infer<typeof topologyChangedV1Schema>;

export const TopologyChanged = {
  version: 1,
  schema: topologyChangedV1Schema,
  subject: () => versioned(SubjectBase.topologyChanged, 1),
} as const;

/**
 * A device's office changed (its first placement included): by a scan with new addresses or by a
 * new topology version. Device-scoped, so that an agent may listen for its own placement only.
 */
export const devicePlacedV1Schema = z.object({
  deviceId: idSchema,
  officeId: idSchema,
  /** Null for the device's first placement. */
  previousOfficeId: idSchema.nullable(),
  /** False: no office's subnets hold any of its addresses; it is in the default office and listed as unplaced. */
  placed: z.boolean(),
  /** The address that placed it; null when unplaced. */
  address: z.string().nullable(),
  topologyVersion: z.number().int().positive(),
  placedAt: isoTimeSchema,
});
export type DevicePlacedV1 = z.infer<typeof devicePlacedV1Schema>;

export const DevicePlaced = {
  version: 1,
  schema: devicePlacedV1Schema,
  subject: (deviceId: string) => versioned(SubjectBase.devicePlaced, 1, deviceId),
  /** Every version of one device's placements: what its NATS permissions let it subscribe to. */
  deviceFilter: (deviceId: string) => `${SubjectBase.devicePlaced}.*.${deviceId}`,
} as const;
