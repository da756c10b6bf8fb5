import { Inject, Injectable } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { CreateWebhook, ErrorCode, FleetcastError, WebhookEventType, WebhookSubscription } from '@fleetcast/contracts';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { WEBHOOKS_CONFIG, WebhooksConfig } from '../config/webhooks.config';
import { StoredSubscription, SubscriptionsRepository } from './subscriptions.repository';
import { checkWebhookUrl } from './url-check';

/** A secret made when the caller gives none: 32 random bytes, base64url, with a prefix that says what it is. */
function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** The public view: everything but the secret. */
export function publicView(s: StoredSubscription): WebhookSubscription {
  const { secret: _secret, ...view } = s;
  return view;
}

@Injectable()
export class SubscriptionsService {
  constructor(
    @Inject(WEBHOOKS_CONFIG) private readonly config: WebhooksConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly subscriptions: SubscriptionsRepository,
  ) {}

  async create(request: CreateWebhook): Promise<{ subscription: WebhookSubscription; secret: string }> {
    await checkWebhookUrl(request.url, this.config.WEBHOOK_ALLOWED_NETWORKS);
    const secret = request.secret ?? newSecret();
    const stored = await this.subscriptions.insert({ id: randomUUID(), url: request.url, events: request.events, secret, enabled: request.enabled, description: request.description ?? null });
    this.logger.info({ subscriptionId: stored.id, url: stored.url, events: stored.events }, 'webhook subscription created');
    return { subscription: publicView(stored), secret };
  }

  async update(id: string, patch: Partial<{ url: string; events: WebhookEventType[]; secret: string; enabled: boolean; description: string | null }>): Promise<WebhookSubscription> {
    if (patch.url !== undefined) await checkWebhookUrl(patch.url, this.config.WEBHOOK_ALLOWED_NETWORKS);
    const updated = await this.subscriptions.update(id, patch);
    if (updated === null) throw notFound(id);
    this.logger.info({ subscriptionId: id, changed: Object.keys(patch) }, 'webhook subscription updated');
    return publicView(updated);
  }

  async delete(id: string): Promise<WebhookSubscription> {
    const deleted = await this.subscriptions.delete(id);
    if (deleted === null) throw notFound(id);
    this.logger.info({ subscriptionId: id }, 'webhook subscription deleted; its pending deliveries end');
    return publicView(deleted);
  }

  async get(id: string): Promise<WebhookSubscription> {
    const found = await this.subscriptions.find(id);
    if (found === null) throw notFound(id);
    return publicView(found);
  }

  async list(limit: number, offset: number): Promise<{ items: WebhookSubscription[]; total: number }> {
    const { items, total } = await this.subscriptions.list(limit, offset);
    return { items: items.map(publicView), total };
  }
}

function notFound(id: string): FleetcastError {
  return new FleetcastError(ErrorCode.WebhookNotFound, `webhook subscription ${id} not found`);
}
