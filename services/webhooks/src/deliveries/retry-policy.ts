/**
 * When a failed delivery is attempted again: exponential back-off with full jitter (each wait drawn
 * uniformly from [base x 2^(n-1) / 2, base x 2^(n-1)], capped), so that a receiver back from an
 * outage is not hit by every pending delivery in the same second. After `retryPeriodMs` from the
 * delivery's creation, no further attempt: the delivery is dead (kept, listed, redeliverable by hand).
 */
export interface RetryPolicy {
  /** The wait after the first failure, ms. */
  baseDelayMs: number;
  /** The longest wait between two attempts, ms. */
  maxDelayMs: number;
  /** How long after its creation a delivery is still attempted, ms. */
  retryPeriodMs: number;
}

/**
 * Defaults: 30 s, doubling, at most an hour apart, for three days. Three days cover a receiver down
 * over a weekend; the waits' ceilings are 30 s, 1, 2, 4, 8, 16, 32, 64 min, then an hour (with jitter
 * about a hundred attempts in all).
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseDelayMs: 30_000, maxDelayMs: 3_600_000, retryPeriodMs: 3 * 24 * 3_600_000 };

/**
 * After the `attempts`-th failed attempt at `nowMs` of a delivery created at `createdAtMs`: when to
 * try again, or null when the retry period is over. `random` in [0, 1).
 */
export function nextAttemptAt(attempts: number, createdAtMs: number, nowMs: number, policy: RetryPolicy, random: () => number = Math.random): number | null {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30));
  const delay = ceiling / 2 + random() * (ceiling / 2);
  const at = nowMs + delay;
  return at > createdAtMs + policy.retryPeriodMs ? null : Math.round(at);
}
