import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { WebhookDelivery, WebhookDeliveryState, WebhookEventType } from '@fleetcast/contracts';
import { queryRows } from '@fleetcast/persistence';

interface DeliveryRow {
  id: string;
  subscription_id: string;
  event_id: string;
  event_type: string;
  state: WebhookDeliveryState;
  attempts: number;
  next_attempt_at: Date | null;
  last_status: number | null;
  last_error: string | null;
  created_at: Date;
  retry_from: Date;
  delivered_at: Date | null;
}

/** A delivery a worker holds for one attempt: with what it sends and where. */
export interface ClaimedDelivery {
  id: string;
  eventId: string;
  eventType: WebhookEventType;
  payload: Record<string, unknown>;
  attempts: number;
  createdAt: Date;
  /** Retries are counted from here: the creation, or the last manual redelivery. */
  retryFrom: Date;
  url: string;
  secret: string;
}

/** What one attempt ended with. */
export type AttemptOutcome = { state: 'delivered' } | { state: 'pending'; nextAttemptAt: Date } | { state: 'dead' };

const COLUMNS = 'id, subscription_id, event_id, event_type, state, attempts, next_attempt_at, last_status, last_error, created_at, retry_from, delivered_at';

/** Deliveries and their attempts in Postgres; every worker of every instance shares them. */
@Injectable()
export class DeliveriesRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  transaction<T>(fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }

  /**
   * One pending delivery per enabled subscription to the event's type. Idempotent: the event taken
   * in again (JetStream redelivers what was not acknowledged) makes no second delivery.
   */
  async createForEvent(m: EntityManager, event: { eventId: string; type: WebhookEventType; payload: unknown }): Promise<number> {
    const rows = await queryRows<{ id: string }>(
      m,
      `INSERT INTO webhooks.deliveries (id, subscription_id, event_id, event_type, payload, state, next_attempt_at)
       SELECT gen_random_uuid(), s.id, $1, $2, $3::jsonb, 'pending', now()
       FROM webhooks.subscriptions s WHERE s.deleted_at IS NULL AND s.enabled AND $2 = ANY(s.events)
       ON CONFLICT (subscription_id, event_id) DO NOTHING
       RETURNING id`,
      [event.eventId, event.type, JSON.stringify(event.payload)],
    );
    return rows.length;
  }

  /**
   * Takes up to `limit` due deliveries for `leaseMs`: another worker (or instance) skips them until
   * the lease ends, so a worker that dies mid-attempt delays its deliveries, never loses them.
   */
  async claimDue(limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const rows = await queryRows<{ id: string; event_id: string; event_type: string; payload: Record<string, unknown>; attempts: number; created_at: Date; retry_from: Date; url: string; secret: string }>(
      this.db,
      `WITH due AS (
         SELECT d.id FROM webhooks.deliveries d
         WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND (d.locked_until IS NULL OR d.locked_until < now())
         ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
       )
       UPDATE webhooks.deliveries d SET locked_until = now() + make_interval(secs => $2::double precision / 1000)
       FROM due, webhooks.subscriptions s
       WHERE d.id = due.id AND s.id = d.subscription_id
       RETURNING d.id, d.event_id, d.event_type, d.payload, d.attempts, d.created_at, d.retry_from, s.url, s.secret`,
      [limit, leaseMs],
    );
    return rows.map((r) => ({
      id: r.id,
      eventId: r.event_id,
      eventType: r.event_type as WebhookEventType,
      payload: r.payload,
      attempts: r.attempts,
      createdAt: r.created_at,
      retryFrom: r.retry_from,
      url: r.url,
      secret: r.secret,
    }));
  }

  /** Logs an attempt and moves the delivery on, in one transaction. */
  async recordAttempt(id: string, attempt: { status: number | null; error: string | null; durationMs: number }, outcome: AttemptOutcome): Promise<void> {
    await this.db.transaction(async (m) => {
      await m.query(`INSERT INTO webhooks.attempts (delivery_id, status, error, duration_ms) VALUES ($1, $2, $3, $4)`, [id, attempt.status, attempt.error, attempt.durationMs]);
      await m.query(
        `UPDATE webhooks.deliveries SET attempts = attempts + 1, locked_until = NULL, last_status = $2, last_error = $3, state = $4,
           next_attempt_at = $5, delivered_at = CASE WHEN $4 = 'delivered' THEN now() ELSE delivered_at END
         WHERE id = $1 AND state = 'pending'`,
        [id, attempt.status, attempt.error, outcome.state, outcome.state === 'pending' ? outcome.nextAttemptAt : null],
      );
    });
  }

  async find(id: string): Promise<WebhookDelivery | null> {
    const [row] = await queryRows<DeliveryRow>(this.db, `SELECT ${COLUMNS} FROM webhooks.deliveries WHERE id = $1`, [id]);
    return row === undefined ? null : toDelivery(row);
  }

  async attempts(id: string): Promise<Array<{ at: string; status: number | null; error: string | null; durationMs: number }>> {
    const rows = await queryRows<{ at: Date; status: number | null; error: string | null; duration_ms: number }>(
      this.db,
      `SELECT at, status, error, duration_ms FROM webhooks.attempts WHERE delivery_id = $1 ORDER BY id`,
      [id],
    );
    return rows.map((r) => ({ at: r.at.toISOString(), status: r.status, error: r.error, durationMs: r.duration_ms }));
  }

  async list(filter: { subscriptionId?: string; state?: WebhookDeliveryState }, limit: number, offset: number): Promise<{ items: WebhookDelivery[]; total: number }> {
    const rows = await queryRows<DeliveryRow & { total: number }>(
      this.db,
      `SELECT ${COLUMNS}, count(*) OVER ()::int AS total FROM webhooks.deliveries
       WHERE ($1::uuid IS NULL OR subscription_id = $1) AND ($2::text IS NULL OR state = $2)
       ORDER BY created_at DESC, id LIMIT $3 OFFSET $4`,
      [filter.subscriptionId ?? null, filter.state ?? null, limit, offset],
    );
    return { items: rows.map(toDelivery), total: rows[0]?.total ?? 0 };
  }

  /** Due now, whatever its state, with a fresh retry period; null when there is no such delivery. */
  async redeliver(id: string): Promise<WebhookDelivery | null> {
    const [row] = await queryRows<DeliveryRow>(
      this.db,
      `UPDATE webhooks.deliveries SET state = 'pending', next_attempt_at = now(), retry_from = now(), locked_until = NULL WHERE id = $1 RETURNING ${COLUMNS}`,
      [id],
    );
    return row === undefined ? null : toDelivery(row);
  }

  /** Deliveries per state, for the metrics. */
  async countByState(): Promise<Record<WebhookDeliveryState, number>> {
    const rows = await queryRows<{ state: WebhookDeliveryState; n: number }>(this.db, `SELECT state, count(*)::int AS n FROM webhooks.deliveries GROUP BY state`);
    const counts = { pending: 0, delivered: 0, dead: 0 };
    for (const r of rows) counts[r.state] = r.n;
    return counts;
  }
}

function toDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    subscriptionId: row.subscription_id,
    eventType: row.event_type as WebhookEventType,
    eventId: row.event_id,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at?.toISOString() ?? null,
    lastStatus: row.last_status,
    lastError: row.last_error,
    createdAt: row.created_at.toISOString(),
    deliveredAt: row.delivered_at?.toISOString() ?? null,
  };
}
