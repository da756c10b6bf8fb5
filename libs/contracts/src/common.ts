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

/**
 * Where the bytes of a package came from; every status report and summary counts per source.
 * - `origin`: the origin server, across the WAN.
 * - `parent`: holders in the parent office (the office swarm's upstream fetch), across the
 *   office's WAN link but not from the origin.
 * - `multicast`: the subnet's multicast session, on the LAN.
 * - `peer`: other devices of the office (or subnet), on the LAN.
 * `origin` + `parent` is what crossed an office's WAN link; `multicast` + `peer` is what did not.
 */
export const byteSourceSchema = z.enum(['origin', 'parent', 'multicast', 'peer']);
export type ByteSource = z.infer<typeof byteSourceSchema>;

export const bytesBySourceSchema = z.object({
  origin: z.number().int().nonnegative(),
  multicast: z.number().int().nonnegative(),
  peer: z.number().int().nonnegative(),
  /**
   * An added field: 0 when absent, so that a report of an older agent (which counted parent bytes
   * as `peer`) or a reply of an older service still parses; an older reader ignores it.
   */
  parent: z.number().int().nonnegative().default(0),
});
export type BytesBySource = z.infer<typeof bytesBySourceSchema>;

export const emptyBytesBySource = (): BytesBySource => ({ origin: 0, multicast: 0, peer: 0, parent: 0 });

/** What crossed the WAN link into the office (from the origin or the parent office). */
export const wanBytesOf = (b: BytesBySource): number => b.origin + b.parent;

/** What the LAN carried instead of the WAN link (multicast and peers of the office). */
export const savedBytesOf = (b: BytesBySource): number => b.multicast + b.peer;
