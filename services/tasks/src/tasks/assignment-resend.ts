/**
 * When an unacknowledged assignment is sent again: pure, so that the schedule is tested as a table
 * and the repository only indexes it.
 *
 * A resend helps a connected agent that missed the live message (an agent that was offline replays
 * the TASK_ASSIGNMENTS stream when it comes back, resends or not), so the first one comes soon and
 * later ones ever more rarely: the delay doubles from `firstDelaySeconds` up to `maxDelaySeconds`,
 * and after `maxResends` the device is left to the stream's replay. Every resend is a message kept
 * on the device's subject of the stream, so the cap is also what bounds the stream per task.
 */
export interface ResendPolicy {
  /** Delay between the first copy and the first resend. */
  firstDelaySeconds: number;
  /** Largest delay between two copies. */
  maxDelaySeconds: number;
  /** Resends at most; 0 = the first copy only. */
  maxResends: number;
}

/**
 * Defaults: 60 s, doubling to an hour, 8 resends (60, 120, 240, 480, 960, 1920, 3600, 3600 s: the
 * last about 3 hours after the first copy). A device that never acknowledges costs 9 messages per
 * task instead of one a minute for the 30 days of the assignment's validity (43,200); an agent that
 * missed the live message gets a copy within a minute, and 8 missed copies in 3 hours mean an agent
 * that is not listening at all, which the stream's replay at its next connect serves better.
 */
export const DEFAULT_RESEND_POLICY: ResendPolicy = { firstDelaySeconds: 60, maxDelaySeconds: 3600, maxResends: 8 };

/**
 * The delay before each resend, in seconds: element i is the delay between copy i (0 = the first)
 * and resend i + 1; `maxResends` elements. The repository looks up the delay after the n-th resend
 * as element n (SQL arrays count from 1: `delays[n + 1]`), which is null past the end: no more.
 */
export function resendDelaysSeconds(policy: ResendPolicy): number[] {
  const { firstDelaySeconds, maxDelaySeconds, maxResends } = policy;
  if (!Number.isInteger(firstDelaySeconds) || firstDelaySeconds < 1) throw new RangeError(`firstDelaySeconds must be a positive integer, got ${firstDelaySeconds}`);
  if (!Number.isInteger(maxDelaySeconds) || maxDelaySeconds < firstDelaySeconds) throw new RangeError(`maxDelaySeconds must be an integer >= firstDelaySeconds, got ${maxDelaySeconds}`);
  if (!Number.isInteger(maxResends) || maxResends < 0) throw new RangeError(`maxResends must be a non-negative integer, got ${maxResends}`);
  // 2^30 is past any sane cap; clamping the exponent keeps the arithmetic exact.
  return Array.from({ length: maxResends }, (_, i) => Math.min(maxDelaySeconds, firstDelaySeconds * 2 ** Math.min(i, 30)));
}

/** When a copy sent at `sentAt`, after `resendsSoFar` resends, is due again; null when the cap is reached. */
export function nextResendAt(sentAt: Date, resendsSoFar: number, policy: ResendPolicy): Date | null {
  const delay = resendDelaysSeconds(policy)[resendsSoFar];
  return delay === undefined ? null : new Date(sentAt.getTime() + delay * 1000);
}
