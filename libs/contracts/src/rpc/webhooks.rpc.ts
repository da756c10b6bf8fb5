import { z } from 'zod';
import { idSchema } from '../common';
import { webhookEventTypeSchema } from '../messages/webhook-events';
import { defineRpc, paginationSchema } from './define';

/** A subscription's URL: http or https, at most 2,000 characters (what browsers and proxies agree on). */
export const webhookUrlSchema = z.string().url().max(2000);

/**
 * A shared secret signs every delivery (HMAC-SHA256). At least 16 characters (128 bits of a random
 * secret); the webhooks service makes a 32-byte one when none is given.
 */
export const webhookSecretSchema = z.string().min(16).max(200);

export const webhookSubscriptionSchema = z.object({
  id: idSchema,
  url: webhookUrlSchema,
  events: z.array(webhookEventTypeSchema),
  enabled: z.boolean(),
  description: z.string().nullable(),
  /** The secret's last four characters, to tell secrets apart; the secret itself is shown only when set. */
  secretHint: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type WebhookSubscription = z.infer<typeof webhookSubscriptionSchema>;

const eventsSchema = z
  .array(webhookEventTypeSchema)
  .min(1)
  .max(20)
  .refine((events) => new Set(events).size === events.length, 'an event type is listed twice');

export const createWebhookSchema = z.object({
  url: webhookUrlSchema,
  events: eventsSchema,
  secret: webhookSecretSchema.optional(),
  enabled: z.boolean().default(true),
  description: z.string().max(500).optional(),
});
export type CreateWebhook = z.infer<typeof createWebhookSchema>;

export const updateWebhookSchema = z.object({
  id: idSchema,
  patch: z.object({
    url: webhookUrlSchema.optional(),
    events: eventsSchema.optional(),
    secret: webhookSecretSchema.optional(),
    enabled: z.boolean().optional(),
    description: z.string().max(500).nullable().optional(),
  }),
});

/** A subscription as created or re-keyed: with its secret, which is never shown again. */
export const webhookWithSecretSchema = z.object({ subscription: webhookSubscriptionSchema, secret: z.string() });

/** `pending` (to be attempted at `nextAttemptAt`), `delivered` (a 2xx answer), `dead` (retries used up: redeliver by hand). */
export const webhookDeliveryStateSchema = z.enum(['pending', 'delivered', 'dead']);
export type WebhookDeliveryState = z.infer<typeof webhookDeliveryStateSchema>;

export const webhookDeliverySchema = z.object({
  id: idSchema,
  subscriptionId: idSchema,
  eventType: webhookEventTypeSchema,
  eventId: z.string(),
  state: webhookDeliveryStateSchema,
  attempts: z.number().int().nonnegative(),
  nextAttemptAt: z.string().nullable(),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  deliveredAt: z.string().nullable(),
});
export type WebhookDelivery = z.infer<typeof webhookDeliverySchema>;

export const webhookAttemptSchema = z.object({
  at: z.string(),
  /** The receiver's HTTP status; null when it gave none (refused, timed out, address not allowed). */
  status: z.number().int().nullable(),
  error: z.string().nullable(),
  durationMs: z.number().int().nonnegative(),
});

const list = <T extends z.ZodTypeAny>(item: T) => z.object({ items: z.array(item), total: z.number().int() });
const byId = z.object({ id: idSchema });

export const WebhooksRpc = {
  createSubscription: defineRpc('webhooks.cmd.subscription.create.v1', createWebhookSchema, webhookWithSecretSchema),
  updateSubscription: defineRpc('webhooks.cmd.subscription.update.v1', updateWebhookSchema, webhookSubscriptionSchema),
  deleteSubscription: defineRpc('webhooks.cmd.subscription.delete.v1', byId, webhookSubscriptionSchema),
  getSubscription: defineRpc('webhooks.qry.subscription.get.v1', byId, webhookSubscriptionSchema),
  listSubscriptions: defineRpc('webhooks.qry.subscription.list.v1', paginationSchema, list(webhookSubscriptionSchema)),
  listDeliveries: defineRpc(
    'webhooks.qry.delivery.list.v1',
    paginationSchema.extend({ subscriptionId: idSchema.optional(), state: webhookDeliveryStateSchema.optional() }),
    list(webhookDeliverySchema),
  ),
  getDelivery: defineRpc('webhooks.qry.delivery.get.v1', byId, webhookDeliverySchema.extend({ attemptLog: z.array(webhookAttemptSchema) })),
  /** Attempts a delivery again now, whatever its state (a dead one comes back to life with a fresh retry period). */
  redeliver: defineRpc('webhooks.cmd.delivery.redeliver.v1', byId, webhookDeliverySchema),
} as const;
