/**
 * How long a follower keeps faith with its representative. Claim proofs (lan-protocol
 * `auth/claim-proof.ts`) make sure a representative is a target of the task that the control plane
 * vouches for, but such a device can still claim and then send nothing (a stolen or broken device):
 * without a deadline its whole subnet would wait for ever. Its keep-alives prove it is there, not
 * that it delivers, so the deadline counts only verified blocks: what a forger cannot make.
 *
 * - Before the first block: the task's own session start delay (from the control plane's settings,
 *   never the ANNOUNCE's, which the representative writes) plus the stall allowance.
 * - After a block: the stall allowance from the last one.
 * The allowance covers what a sound session can spend without a new block for this device: a block's
 * time at the task's LAN rate cap (three of them), and the blocks this device already held when it
 * joined, which the multicast sends for the others (at a floor rate).
 */

export interface FollowDeadlineOptions {
  /** The task's session start delay, ms. */
  startDelayMs: number;
  /** The longest wait for a new verified block in a sound session, ms (FOLLOW_STALL_MS). */
  stallMs: number;
  /** The task's LAN rate cap in kbit/s; 0 when unlimited. */
  rateKbps: number;
  blockSize: number;
}

export interface FollowWatch {
  /** When this device began following the representative (ms, any monotonic clock). */
  sinceMs: number;
  /** When its last verified block from the session arrived; null before the first. */
  lastBlockAtMs: number | null;
  /** Verified blocks it held when it joined: the multicast sends them for the others first. */
  blocksHeldAtJoin: number;
}

/**
 * Default stall allowance: 60 s. A representative whose multicast follows its WAN download sends a
 * 1 MiB block every 8.4 s over a 1 Mbit/s WAN link, and a repair round is over in seconds; a minute
 * with no verified block means the session delivers nothing.
 */
export const FOLLOW_STALL_MS = 60_000;

/**
 * Rate at which the blocks a device already held are assumed to go by: 1 MiB/s, a twelfth of what
 * the multicast measures on a quiet LAN (12.5 MB/s), so a sound session never runs past it.
 */
export const HELD_BLOCKS_FLOOR_BYTES_PER_SECOND = 1024 * 1024;

/** Blocks' worth of time at the rate cap allowed between two blocks: one in flight, one repaired, one spare. */
const CAPPED_BLOCKS_ALLOWED = 3;

/** The stall allowance for `watch` under `options`, ms. */
export function stallAllowanceMs(watch: FollowWatch, options: FollowDeadlineOptions): number {
  const capped = options.rateKbps > 0 ? (CAPPED_BLOCKS_ALLOWED * options.blockSize * 8) / options.rateKbps : 0;
  const floorRate = options.rateKbps > 0 ? Math.min(HELD_BLOCKS_FLOOR_BYTES_PER_SECOND, (options.rateKbps * 1000) / 8) : HELD_BLOCKS_FLOOR_BYTES_PER_SECOND;
  const held = ((watch.blocksHeldAtJoin * options.blockSize) / floorRate) * 1000;
  return Math.max(options.stallMs, capped) + held;
}

/** When the follower gives up on its representative and takes the rest from peers and the origin. */
export function followDeadlineMs(watch: FollowWatch, options: FollowDeadlineOptions): number {
  const allowance = stallAllowanceMs(watch, options);
  return watch.lastBlockAtMs === null ? watch.sinceMs + options.startDelayMs + allowance : watch.lastBlockAtMs + allowance;
}
