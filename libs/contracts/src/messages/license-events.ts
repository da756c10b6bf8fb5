import { z } from 'zod';
import { idSchema, isoTimeSchema } from '../common';
import { SubjectBase, versioned } from '../subjects';

/** What happens to a seat asked for beyond the seats bought: refused, or given (for a grace period). */
export const overagePolicySchema = z.enum(['refuse', 'allow']);
export type OveragePolicy = z.infer<typeof overagePolicySchema>;

/**
 * Seats in use went above the seats bought: published once per crossing (from "within the limit"
 * to "over it"), through the licensing service's outbox into the LICENSING_EVENTS stream. Falling
 * back within the limit and crossing again publishes a new one.
 */
export const licenseOverageV1Schema = z.object({
  licenseId: idSchema,
  customer: z.string(),
  /** Seats bought. */
  seats: z.number().int().nonnegative(),
  /** Seats in use once the crossing happened. */
  used: z.number().int().nonnegative(),
  /** used - seats. */
  over: z.number().int().positive(),
  policy: overagePolicySchema,
  /** The device whose seat crossed the limit; null when a smaller license installed over the seats in use did. */
  deviceId: idSchema.nullable(),
  /** When over-allocation stops being allowed; null under the `refuse` policy, which gives no further seat at all. */
  graceUntil: isoTimeSchema.nullable(),
  occurredAt: isoTimeSchema,
});
export type LicenseOverageV1 = z.infer<typeof licenseOverageV1Schema>;

export const LicenseOverage = {
  version: 1,
  schema: licenseOverageV1Schema,
  subject: () => versioned(SubjectBase.licenseOverage, 1),
} as const;

/**
 * The installed license comes within `thresholdDays` of its expiry: published once per license and
 * threshold by the licensing service's periodic check, through its outbox into LICENSING_EVENTS.
 */
export const licenseExpiringV1Schema = z.object({
  licenseId: idSchema,
  customer: z.string(),
  expiresAt: isoTimeSchema,
  /** The configured threshold that was crossed (one of LICENSE_EXPIRING_DAYS). */
  thresholdDays: z.number().int().positive(),
  /** Whole days left, rounded down (0 on the last day). */
  daysLeft: z.number().int().nonnegative(),
  occurredAt: isoTimeSchema,
});
export type LicenseExpiringV1 = z.infer<typeof licenseExpiringV1Schema>;

export const LicenseExpiring = {
  version: 1,
  schema: licenseExpiringV1Schema,
  subject: () => versioned(SubjectBase.licenseExpiring, 1),
} as const;
