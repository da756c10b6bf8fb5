/** Exponential back-off with a cap: the delay doubles with every failure until `maxDelayMs`. */
export interface BackoffPolicy {
  /** Delay after the first failure. */
  baseDelayMs: number;
  /** Upper bound of any delay. */
  maxDelayMs: number;
}

/**
 * Delay before the next attempt after `failures` consecutive failures (1 = the first failure).
 * "Equal jitter": half of the exponential delay is fixed, the other half is spread by `jitter` in
 * [0, 1). Thousands of agents that lost the origin at the same moment then come back spread over
 * a window instead of all at once, while none retries sooner than half the nominal delay.
 */
export function backoffDelayMs(failures: number, policy: BackoffPolicy, jitter: number): number {
  if (failures < 1) return 0;
  // 2^30 already exceeds any sane cap; clamping the exponent keeps the arithmetic finite.
  const exponential = policy.baseDelayMs * 2 ** Math.min(failures - 1, 30);
  const capped = Math.min(policy.maxDelayMs, exponential);
  const spread = Math.min(Math.max(jitter, 0), 1);
  return Math.round(capped / 2 + (capped / 2) * spread);
}

/**
 * A fraction in [0, 1) derived from a string (FNV-1a, 32 bit): deterministic jitter for pure code.
 * Keyed by device and task, it differs between devices (so a fleet spreads out) but is the same on
 * every replay of the same events (so a reducer stays a pure function and its tests need no seed).
 */
export function stableFraction(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash / 2 ** 32;
}
