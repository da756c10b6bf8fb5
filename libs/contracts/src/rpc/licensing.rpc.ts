import { z } from 'zod';
import { idSchema } from '../common';
import { overagePolicySchema } from '../messages/license-events';
import { defineRpc, paginationSchema } from './define';

/**
 * Where the installed license stands: `valid`; `expiring` (within the largest LICENSE_EXPIRING_DAYS
 * threshold of its expiry); `expired` (existing devices keep their seats, new ones are refused);
 * `none` (no license was ever installed).
 */
export const licenseStateSchema = z.enum(['valid', 'expiring', 'expired', 'none']);
export type LicenseState = z.infer<typeof licenseStateSchema>;

/** The installed license and its seats; the license fields are null when none is installed. */
export const licenseStatusSchema = z.object({
  state: licenseStateSchema,
  policy: overagePolicySchema,
  licenseId: idSchema.nullable(),
  customer: z.string().nullable(),
  /** Seats bought (0 without a license). */
  seats: z.number().int().nonnegative(),
  /** Seats held by devices. */
  used: z.number().int().nonnegative(),
  /** max(0, used - seats). */
  over: z.number().int().nonnegative(),
  features: z.array(z.string()),
  issuedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  installedAt: z.string().nullable(),
  /** While over the limit under the `allow` policy: when further over-allocation stops being allowed. */
  graceUntil: z.string().nullable(),
});
export type LicenseStatus = z.infer<typeof licenseStatusSchema>;

/**
 * Largest license key text accepted: the signed payload (IDs, a customer name of up to 200
 * characters, up to 100 feature names) in base64url stays under 8 KiB with room to spare.
 */
export const MAX_LICENSE_KEY_LENGTH = 16_384;

export const installLicenseSchema = z.object({
  /** The license key text (`FCL1.<payload>.<signature>`); whitespace such as line breaks from an e-mail is ignored. */
  key: z.string().min(1).max(MAX_LICENSE_KEY_LENGTH),
});
export type InstallLicense = z.input<typeof installLicenseSchema>;

export const seatReleaseReasonSchema = z.enum(['retired', 'stale']);
export type SeatReleaseReason = z.infer<typeof seatReleaseReasonSchema>;

export const seatSchema = z.object({
  deviceId: idSchema,
  /** The license installed when the seat was given. */
  licenseId: idSchema,
  assignedAt: z.string(),
  /** Null while the device holds the seat. */
  releasedAt: z.string().nullable(),
  releaseReason: seatReleaseReasonSchema.nullable(),
});
export type Seat = z.infer<typeof seatSchema>;

export const LicensingRpc = {
  getLicense: defineRpc('licensing.qry.license.get.v1', z.object({}), licenseStatusSchema),
  /** Verifies the key against the configured public key and makes it the active license (earlier ones stay in the history). */
  installLicense: defineRpc('licensing.cmd.license.install.v1', installLicenseSchema, licenseStatusSchema),
  /** Seats in device ID order: those held, or with `includeReleased` also those given back. */
  listSeats: defineRpc(
    'licensing.qry.seat.list.v1',
    paginationSchema.extend({ includeReleased: z.boolean().default(false) }),
    z.object({ items: z.array(seatSchema), total: z.number().int() }),
  ),
} as const;
