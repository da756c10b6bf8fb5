import type { LicenseState } from '@fleetcast/contracts';

/** Pure rules of a license's lifetime: its state at a time, and which expiry notice is due. */

const DAY_MS = 86_400_000;

/**
 * `expired` from the expiry instant on; `expiring` within the largest notice threshold before it;
 * `valid` before that; `none` without a license.
 */
export function licenseState(expiresAt: Date | null, now: Date, expiringDays: readonly number[]): LicenseState {
  if (expiresAt === null) return 'none';
  const left = expiresAt.getTime() - now.getTime();
  if (left <= 0) return 'expired';
  return left <= Math.max(0, ...expiringDays) * DAY_MS ? 'expiring' : 'valid';
}

export interface ExpiringNotice {
  /** The threshold to announce, or null when nothing is to be published. */
  announce: { thresholdDays: number; daysLeft: number } | null;
  /** The thresholds to record as done (those already recorded included). */
  notified: number[];
}

/**
 * Which `license.expiring` notice is due: each threshold is announced at most once per license.
 * When several are crossed at once (a license installed a week before its expiry with thresholds
 * 30 and 7, or a service that was down), only the closest one is announced and the others are
 * recorded as done: one message saying "7 days left" says everything the "30 days" one would have.
 * Nothing is announced once the license has expired. Null when there is nothing to record either.
 */
export function expiringNotice(expiresAt: Date, thresholds: readonly number[], notified: readonly number[], now: Date): ExpiringNotice | null {
  const left = expiresAt.getTime() - now.getTime();
  if (left <= 0) return null;
  const crossed = thresholds.filter((days) => left <= days * DAY_MS);
  if (crossed.length === 0 || crossed.every((days) => notified.includes(days))) return null;
  const closest = Math.min(...crossed);
  const all = [...new Set([...notified, ...crossed])].sort((a, b) => b - a);
  return {
    announce: notified.includes(closest) ? null : { thresholdDays: closest, daysLeft: Math.floor(left / DAY_MS) },
    notified: all,
  };
}
