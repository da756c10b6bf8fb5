import { z } from 'zod';
import { baseEnvSchema, databaseEnvSchema, parseEnv, port } from '@fleetcast/service-kit';
import { AllowedNetworks, parseAllowedNetworks } from '../deliveries/address-policy';
import { DEFAULT_RETRY_POLICY } from '../deliveries/retry-policy';

/** Nest injection token of the validated configuration. */
export const WEBHOOKS_CONFIG = Symbol('WEBHOOKS_CONFIG');

/** The Postgres schema the webhooks service owns; no other service reads or writes it. */
export const WEBHOOKS_SCHEMA = 'webhooks';

export const webhooksEnvSchema = baseEnvSchema.merge(databaseEnvSchema).extend({
  // 3005: after the inventory (3001), tasks (3002), licensing (3003) and topology (3004); 0 lets the OS pick.
  HTTP_PORT: port(3005),
  /**
   * Networks webhooks may be delivered to although the address policy refuses them (loopback,
   * private, link-local...), comma-separated CIDRs. Empty: public addresses only.
   */
  WEBHOOK_ALLOWED_NETWORKS: z
    .string()
    .default('')
    .transform((text, ctx): AllowedNetworks => {
      try {
        return parseAllowedNetworks(text);
      } catch (error) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: (error as Error).message });
        return z.NEVER;
      }
    }),
  // 10 s: a receiver should answer at once and do its work later; a slow one never holds a worker longer.
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  // Deliveries in flight per instance: 16 slow receivers at the 10 s timeout still leave the rest moving.
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).default(DEFAULT_RETRY_POLICY.baseDelayMs),
  WEBHOOK_RETRY_MAX_MS: z.coerce.number().int().min(10).default(DEFAULT_RETRY_POLICY.maxDelayMs),
  WEBHOOK_RETRY_PERIOD_MS: z.coerce.number().int().min(10).default(DEFAULT_RETRY_POLICY.retryPeriodMs),
  // How often an idle worker looks for due deliveries (new ones wake it at once).
  WEBHOOK_POLL_MS: z.coerce.number().int().min(10).default(1_000),
});

export type WebhooksConfig = z.infer<typeof webhooksEnvSchema>;

/** Validates the environment once; the only reader of `process.env` in the webhooks service. */
export function loadWebhooksConfig(env: NodeJS.ProcessEnv = process.env): WebhooksConfig {
  return parseEnv(webhooksEnvSchema, env);
}

/** The database settings alone: what the migrate command needs. */
export function loadWebhooksDatabaseConfig(env: NodeJS.ProcessEnv = process.env): Pick<WebhooksConfig, 'DATABASE_URL' | 'DB_POOL_SIZE'> {
  return parseEnv(databaseEnvSchema, env);
}
