import { DataSource, EntityManager, MigrationInterface, QueryRunner } from 'typeorm';
import { NatsConnection, headers as natsHeaders } from 'nats';
import { counter, gauge, injectTraceContext, Logger, Registry } from '@fleetcast/telemetry';

/**
 * How long the relay waits for JetStream's acknowledgement of a publish. A replicated stream on a
 * busy cluster acknowledges a batch of 1,000 in seconds, and a publish given up on too early is
 * sent again (a duplicate for live subscribers); but when a stream's leader dies, the publishes in
 * flight to it are never answered and wait this long before going to the new leader. 15 s: no
 * repeat with every node up at 100,000 devices, a fan-out through a node's loss in under 90 s
 * (docs/scaling.md).
 */
const PUBLISH_ACK_TIMEOUT_MS = 15_000;

/** A message to publish once the transaction that produced it commits. */
export interface OutboxMessage {
  subject: string;
  payload: unknown;
}

/**
 * Creates the outbox table of a service's schema. Each service's first migration calls it, so the
 * table is part of the service's own committed migrations.
 */
export async function createOutboxTable(queryRunner: QueryRunner, schema: string): Promise<void> {
  await queryRunner.query(`
    CREATE TABLE "${schema}".outbox (
      id bigserial PRIMARY KEY,
      subject text NOT NULL,
      payload jsonb NOT NULL,
      headers jsonb NOT NULL DEFAULT '{}'::jsonb,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
}

export async function dropOutboxTable(queryRunner: QueryRunner, schema: string): Promise<void> {
  await queryRunner.query(`DROP TABLE IF EXISTS "${schema}".outbox`);
}

/**
 * Adds messages to the outbox inside the caller's transaction: they exist if and only if the state
 * change that produced them committed. Carries the current trace context along.
 */
export async function enqueueOutbox(manager: EntityManager, schema: string, messages: OutboxMessage[]): Promise<void> {
  if (messages.length === 0) return;
  const carrier: Record<string, string> = {};
  injectTraceContext({ get: (k) => carrier[k] ?? '', set: (k, v) => (carrier[k] = v), keys: () => Object.keys(carrier) });
  const headers = JSON.stringify(carrier);
  // Chunked so one huge fan-out stays under Postgres's 65,535 bind parameters.
  for (let i = 0; i < messages.length; i += 5000) {
    const chunk = messages.slice(i, i + 5000);
    const values = chunk.map((_, j) => `($${j * 3 + 1}, $${j * 3 + 2}::jsonb, $${j * 3 + 3}::jsonb)`).join(', ');
    const params = chunk.flatMap((m) => [m.subject, JSON.stringify(m.payload), headers]);
    await manager.query(`INSERT INTO "${schema}".outbox (subject, payload, headers) VALUES ${values}`, params);
  }
}

export interface OutboxRelayOptions {
  dataSource: DataSource;
  schema: string;
  nc: NatsConnection;
  logger: Logger;
  metrics: Registry;
  /** Poll interval when idle; `kick()` wakes the relay at once after a commit. */
  pollIntervalMs?: number;
  batchSize?: number;
}

/**
 * Publishes outbox rows to JetStream and deletes them. Rows are claimed with FOR UPDATE SKIP LOCKED,
 * so several instances share the work and no row is published by two at once. The message ID is
 * derived from the row, so a crash between publish and delete republishes a row that JetStream's
 * duplicate window then drops.
 */
export class OutboxRelay {
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;
  private stopped = false;
  private readonly published;
  private readonly backlog;

  constructor(private readonly options: OutboxRelayOptions) {
    this.published = counter(options.metrics, 'fleetcast_outbox_published_total', 'Outbox messages published to JetStream', ['schema']);
    this.backlog = gauge(options.metrics, 'fleetcast_outbox_last_batch', 'Size of the last outbox batch published', ['schema']);
  }

  /** Writes messages to this relay's outbox in the caller's transaction; they are published after it commits. */
  enqueue(manager: EntityManager, messages: OutboxMessage[]): Promise<void> {
    return enqueueOutbox(manager, this.options.schema, messages);
  }

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Publish now (called after a commit that wrote to the outbox). */
  kick(): void {
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.drain(), delayMs);
  }

  private async drain(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    let published = 0;
    try {
      do {
        this.again = false;
        published = await this.publishBatch();
      } while ((published > 0 || this.again) && !this.stopped);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'outbox relay could not publish; will retry');
    } finally {
      this.running = false;
      this.schedule(this.options.pollIntervalMs ?? 500);
    }
  }

  /** One batch in one transaction: claim, publish, await every ack, delete. */
  private async publishBatch(): Promise<number> {
    const { dataSource, schema, nc } = this.options;
    const limit = this.options.batchSize ?? 1000;
    return dataSource.transaction(async (manager) => {
      const rows: Array<{ id: string; subject: string; payload: unknown; headers: Record<string, string> }> = await manager.query(
        `SELECT id, subject, payload, headers FROM "${schema}".outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit],
      );
      if (rows.length === 0) return 0;
      const js = nc.jetstream({ timeout: PUBLISH_ACK_TIMEOUT_MS });
      const outcomes = await Promise.allSettled(
        rows.map((row) => {
          const h = natsHeaders();
          for (const [k, v] of Object.entries(row.headers ?? {})) h.set(k, v);
          return js.publish(row.subject, Buffer.from(JSON.stringify(row.payload)), { msgID: `outbox-${schema}-${row.id}`, headers: h });
        }),
      );
      // Only the rows JetStream acknowledged leave the outbox: the others are published again by the
      // next batch, not the whole batch (each repeat reaches live subscribers once more, even when
      // the stream drops it as a duplicate).
      const acked = rows.filter((_, i) => outcomes[i]!.status === 'fulfilled');
      const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
      if (acked.length > 0) await manager.query(`DELETE FROM "${schema}".outbox WHERE id = ANY($1::bigint[])`, [acked.map((r) => r.id)]);
      if (failed.length > 0) this.options.logger.warn({ failed: failed.length, of: rows.length, err: failed[0]!.message }, 'outbox: publishes not acknowledged; published again next');
      this.published.inc({ schema }, acked.length);
      this.backlog.set({ schema }, rows.length);
      return acked.length;
    });
  }
}

export type { MigrationInterface, QueryRunner };
