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
 * Largest `scanSeq`: 10^15. Agents before the persisted scan counter sent the clock in milliseconds
 * (about 1.8 x 10^12 in 2026), and the counter starts from the clock, so a bound must sit well above
 * it: the clock reaches 10^15 in the year 33658, and a counter adding one a scan, at one scan a
 * second, in 30 million years. Unlike 2^53 - 1 (the largest exact JSON number) it leaves room to
 * count on exactly, so a sequence near the bound can never repeat a value by rounding.
 */
export const SCAN_SEQ_MAX = 10 ** 15;

/**
 * An agent's inventory scan: sent at start, on an interval and on a network change.
 * `scanSeq` grows with every scan of a device, so a redelivered or late scan never overwrites a newer one.
 */
export const inventoryScanV1Schema = z.object({
  deviceId: idSchema,
  scanSeq: z.number().int().nonnegative().max(SCAN_SEQ_MAX),
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
