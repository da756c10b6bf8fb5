import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { WebhookEventType, WebhookSubscription } from '@fleetcast/contracts';
import { queryRows } from '@fleetcast/persistence';

interface SubscriptionRow {
  id: string;
  url: string;
  events: string[];
  secret: string;
  enabled: boolean;
  description: string | null;
  created_at: Date;
  updated_at: Date;
}

/** A subscription with its secret: what the sender signs with. Never leaves the service. */
export interface StoredSubscription extends WebhookSubscription {
  secret: string;
}

const COLUMNS = 'id, url, events, secret, enabled, description, created_at, updated_at';

/** Subscriptions in Postgres (`webhooks.subscriptions`); deleted ones are kept for their deliveries' history. */
@Injectable()
export class SubscriptionsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async insert(s: { id: string; url: string; events: WebhookEventType[]; secret: string; enabled: boolean; description: string | null }): Promise<StoredSubscription> {
    const [row] = await queryRows<SubscriptionRow>(
      this.db,
      `INSERT INTO webhooks.subscriptions (id, url, events, secret, enabled, description) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
      [s.id, s.url, s.events, s.secret, s.enabled, s.description],
    );
    return toSubscription(row!);
  }

  async find(id: string): Promise<StoredSubscription | null> {
    const [row] = await queryRows<SubscriptionRow>(this.db, `SELECT ${COLUMNS} FROM webhooks.subscriptions WHERE id = $1 AND deleted_at IS NULL`, [id]);
    return row === undefined ? null : toSubscription(row);
  }

  async update(id: string, patch: Partial<{ url: string; events: WebhookEventType[]; secret: string; enabled: boolean; description: string | null }>): Promise<StoredSubscription | null> {
    const sets: string[] = [];
    const params: unknown[] = [id];
    const column = { url: 'url', events: 'events', secret: 'secret', enabled: 'enabled', description: 'description' } as const;
    for (const [key, name] of Object.entries(column)) {
      const value = patch[key as keyof typeof patch];
      if (value === undefined) continue;
      params.push(value);
      sets.push(`${name} = $${params.length}`);
    }
    const [row] = await queryRows<SubscriptionRow>(
      this.db,
      `UPDATE webhooks.subscriptions SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE id = $1 AND deleted_at IS NULL RETURNING ${COLUMNS}`,
      params,
    );
    return row === undefined ? null : toSubscription(row);
  }

  /** Marks it deleted and ends its pending deliveries (dead, with the reason), in one transaction. */
  async delete(id: string): Promise<StoredSubscription | null> {
    return this.db.transaction(async (m) => {
      const [row] = await queryRows<SubscriptionRow>(m, `UPDATE webhooks.subscriptions SET deleted_at = now(), enabled = false WHERE id = $1 AND deleted_at IS NULL RETURNING ${COLUMNS}`, [id]);
      if (row === undefined) return null;
      await m.query(`UPDATE webhooks.deliveries SET state = 'dead', next_attempt_at = NULL, last_error = 'the subscription was deleted' WHERE subscription_id = $1 AND state = 'pending'`, [id]);
      return toSubscription(row);
    });
  }

  async list(limit: number, offset: number): Promise<{ items: StoredSubscription[]; total: number }> {
    const rows = await queryRows<SubscriptionRow & { total: number }>(
      this.db,
      `SELECT ${COLUMNS}, count(*) OVER ()::int AS total FROM webhooks.subscriptions WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT $1 OFFSET $2`,
      [limit, offset],
    );
    return { items: rows.map(toSubscription), total: rows[0]?.total ?? 0 };
  }
}

function toSubscription(row: SubscriptionRow): StoredSubscription {
  return {
    id: row.id,
    url: row.url,
    events: row.events as WebhookEventType[],
    enabled: row.enabled,
    description: row.description,
    secretHint: row.secret.slice(-4),
    secret: row.secret,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
