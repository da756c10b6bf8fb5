import { z } from 'zod';

/**
 * Device IDs and other IDs travel as NATS subject tokens, so they must never contain
 * '.', '*', '>' or whitespace. 1-64 characters of [A-Za-z0-9_-].
 */
export const idSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be 1-64 characters of A-Z, a-z, 0-9, "_" or "-"');

/** SHA-256 as 64 lowercase hex characters: the content ID of a package. */
export const sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 as 64 lowercase hex characters');

export const platformSchema = z.enum(['windows', 'macos', 'linux']);
export type Platform = z.infer<typeof platformSchema>;

export const isoTimeSchema = z.string().datetime({ offset: true });

/** Where the bytes of a package came from; every status report and summary counts per source. */
export const byteSourceSchema = z.enum(['origin', 'multicast', 'peer']);
export type ByteSource = z.infer<typeof byteSourceSchema>;

export const bytesBySourceSchema = z.object({
  origin: z.number().int().nonnegative(),
  multicast: z.number().int().nonnegative(),
  peer: z.number().int().nonnegative(),
});
export type BytesBySource = z.infer<typeof bytesBySourceSchema>;

export const emptyBytesBySource = (): BytesBySource => ({ origin: 0, multicast: 0, peer: 0 });
