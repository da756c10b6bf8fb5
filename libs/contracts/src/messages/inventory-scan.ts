import { z } from 'zod';
import { idSchema, isoTimeSchema, platformSchema, sha256HexSchema } from '../common';
import { SubjectBase, versioned } from '../subjects';

export const interfaceAddressSchema = z.object({
  family: z.enum(['ipv4', 'ipv6']),
  address: z.string().ip(),
  prefixLength: z.number().int().min(0).max(128),
});

export const networkInterfaceSchema = z.object({
  name: z.string().min(1).max(64),
  mac: z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i, 'must be a MAC address like 02:00:00:aa:bb:cc').nullable(),
  gateway: z.string().ip().nullable(),
  addresses: z.array(interfaceAddressSchema).max(64),
});
export type NetworkInterface = z.infer<typeof networkInterfaceSchema>;

/**
 * An agent's inventory scan: sent at start, on an interval and on a network change.
 * `scanSeq` grows with every scan of a device, so a redelivered or late scan never overwrites a newer one.
 */
export const inventoryScanV1Schema = z.object({
  deviceId: idSchema,
  scanSeq: z.number().int().nonnegative(),
  scannedAt: isoTimeSchema,
  hostname: z.string().min(1).max(255),
  platform: platformSchema,
  osVersion: z.string().max(200),
  agentVersion: z.string().max(50),
  interfaces: z.array(networkInterfaceSchema).max(64),
  cache: z.object({
    contentIds: z.array(sha256HexSchema).max(10_000),
    freeBytes: z.number().int().nonnegative(),
  }),
});
export type InventoryScanV1 = z.infer<typeof inventoryScanV1Schema>;

export const InventoryScanSubmitted = {
  version: 1,
  schema: inventoryScanV1Schema,
  subject: (deviceId: string) => versioned(SubjectBase.inventoryScanSubmitted, 1, deviceId),
} as const;
