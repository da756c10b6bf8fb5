import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { overagePolicySchema } from '@fleetcast/contracts';
import { baseEnvSchema, databaseEnvSchema, parseEnv, port } from '@fleetcast/service-kit';
import { parsePublicKey } from '../license/license-key';

/** Nest injection token of the validated configuration. */
export const LICENSING_CONFIG = Symbol('LICENSING_CONFIG');

/** The Postgres schema the licensing service owns; no other service reads or writes it. */
export const LICENSING_SCHEMA = 'licensing';

const HOUR_MS = 3_600_000;

/** An empty variable (as compose passes `${X:-}`) means "not set". */
const optionalText = z
  .string()
  .optional()
  .transform((text) => (text === undefined || text.trim() === '' ? undefined : text));

export const licensingEnvSchema = baseEnvSchema.merge(databaseEnvSchema).extend({
  // 3003: after the inventory (3001) and tasks (3002), so a one-machine stack needs no remapping; 0 lets the OS pick.
  HTTP_PORT: port(3003),
  /**
   * The Ed25519 public key license keys are verified against, offline: base64 of its DER
   * (SubjectPublicKeyInfo, as `issue-license keygen` prints it) or a PEM block.
   */
  LICENSE_PUBLIC_KEY: z.string({ required_error: 'give the Ed25519 public key that verifies license keys (base64 DER or PEM)' }).transform((text, ctx): KeyObject => {
    try {
      return parsePublicKey(text);
    } catch (error) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (error as Error).message });
      return z.NEVER;
    }
  }),
  /** A license key installed at start when it is newer than the active license (see LicenseService.installFromConfig). */
  LICENSE_KEY: optionalText,
  LICENSE_OVERAGE_POLICY: overagePolicySchema.default('refuse'),
  // A month: time enough to buy seats or retire devices through one purchasing cycle.
  LICENSE_OVERAGE_GRACE_DAYS: z.coerce.number().int().min(0).max(365).default(30),
  /**
   * Days before expiry at which `license.expiring` is published, once per license and threshold;
   * comma-separated ("30,7,1"). A month ahead is a purchasing cycle.
   */
  LICENSE_EXPIRING_DAYS: z
    .string()
    .default('30')
    .transform((text, ctx) => {
      const days = text.split(',').map((part) => part.trim()).filter((part) => part.length > 0).map(Number);
      if (days.length === 0 || days.some((d) => !Number.isInteger(d) || d < 1 || d > 3650)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'give whole days from 1 to 3650, comma-separated (like 30,7,1)' });
        return z.NEVER;
      }
      return [...new Set(days)].sort((a, b) => b - a);
    }),
  // Hourly: thresholds are whole days, so a notice is at most an hour late; each check is two small queries.
  LICENSE_CHECK_INTERVAL_MS: z.coerce.number().int().min(50).default(HOUR_MS),
  // A month without a scan: well past holidays and long leave, so only retired or lost devices are released.
  SEAT_STALE_AFTER_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  // Hourly: a seat freed an hour late costs nothing, and each sweep pages through the inventory's stale devices.
  SEAT_SWEEP_INTERVAL_MS: z.coerce.number().int().min(50).default(HOUR_MS),
  // An idle instance looks for an activation to run (or resume) this often; starting one wakes it at once.
  ACTIVATION_POLL_MS: z.coerce.number().int().min(50).default(2_000),
  // How long an instance holds a running activation without storing progress: after it, another takes it up.
  ACTIVATION_LEASE_MS: z.coerce.number().int().min(100).default(30_000),
  /**
   * The fleet's trust directory (`fleetcast-trust init`): the fleet account's and an operator's
   * signing keys, to issue device credentials and publish revocations. Absent: enrollment refused.
   */
  TRUST_DIR: optionalText,
  /**
   * The fleet account (with every revocation) is pushed again this often even when nothing changed:
   * a branch leaf whose WAN link was down when a device was retired learns of it once its link is
   * back (servers pass updates on only to those connected at the time). 0: only on changes.
   */
  REVOCATION_REFRESH_MS: z.coerce.number().int().min(0).default(60_000),
  /** NATS URLs given to enrolled devices, comma-separated (as devices reach the servers); empty: the agent's own setting. */
  AGENT_NATS_URLS: z
    .string()
    .default('')
    .transform((text) => text.split(',').map((url) => url.trim()).filter((url) => url.length > 0)),
});

export type LicensingConfig = z.infer<typeof licensingEnvSchema>;

/** Validates the environment once; the only reader of `process.env` in the licensing service. */
export function loadLicensingConfig(env: NodeJS.ProcessEnv = process.env): LicensingConfig {
  return parseEnv(licensingEnvSchema, env);
}

/** The database settings alone: what the migrate command needs, without the license variables. */
export function loadLicensingDatabaseConfig(env: NodeJS.ProcessEnv = process.env): Pick<LicensingConfig, 'DATABASE_URL' | 'DB_POOL_SIZE'> {
  return parseEnv(databaseEnvSchema, env);
}
