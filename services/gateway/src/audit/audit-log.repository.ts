import { Inject, Injectable } from '@nestjs/common';
import { AckPolicy, DeliverPolicy, nanos } from 'nats';
import { AuditEventV1, auditEventV1Schema, AuditLogEntry, AuditLogPage, AuditRecorded, Streams } from '@fleetcast/contracts';
import { decodeJson, encodeJson, NatsConnection, tracedHeaders } from '@fleetcast/nats';
import { LOGGER, NATS_CONNECTION } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';

/** How long one publish waits for the stream's acknowledgement before it counts as failed (and is retried). */
const PUBLISH_TIMEOUT_MS = 5_000;
/** How long one fetch waits for records the consumer said are pending. */
const FETCH_EXPIRES_MS = 5_000;
/** Records asked for per fetch: a page of 1,000 in a few round trips, each reply well under NATS's 1 MiB payload. */
const FETCH_BATCH = 256;
/**
 * The reading consumer is deleted when the page is read; should the gateway die first, the server
 * drops it after this long without use.
 */
const READER_INACTIVE_MS = 60_000;

/** Where a page of the log starts. */
export type AuditLogStart = { since: Date } | { after: number };

/** The audit log in its JetStream stream (AUDIT_LOG): appending records and reading them back. */
@Injectable()
export class AuditLogRepository {
  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Stores a record, under its actor's subject, with its request ID as the message ID: a retry of a
   * publish whose acknowledgement was lost is dropped by the stream's duplicate window.
   */
  async append(event: AuditEventV1): Promise<void> {
    await this.nc.jetstream().publish(AuditRecorded.subject(event.actor.name), encodeJson(event), {
      msgID: event.requestId,
      timeout: PUBLISH_TIMEOUT_MS,
      headers: tracedHeaders(),
      // Refused unless the audit stream takes it: a record must not land anywhere else, or nowhere.
      expect: { streamName: Streams.auditLog.name },
    });
  }

  /**
   * Reads up to `limit` records from `start` on, oldest first, optionally one actor's only, through
   * a short-lived consumer filtered on the server: only the page travels.
   */
  async read(start: AuditLogStart, limit: number, actor?: string): Promise<AuditLogPage> {
    const jsm = await this.nc.jetstreamManager();
    const stream = Streams.auditLog.name;
    const info = await jsm.consumers.add(stream, {
      filter_subject: AuditRecorded.filter(actor),
      ack_policy: AckPolicy.None,
      ...('after' in start
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start.after + 1 }
        : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: start.since.toISOString() }),
      inactive_threshold: nanos(READER_INACTIVE_MS),
      mem_storage: true,
    });
    const items: AuditLogEntry[] = [];
    let pending = info.num_pending;
    let last: number | null = null;
    try {
      const consumer = await this.nc.jetstream().consumers.get(stream, info.name);
      while (pending > 0 && items.length < limit) {
        const batch = await consumer.fetch({ max_messages: Math.min(pending, limit - items.length, FETCH_BATCH), expires: FETCH_EXPIRES_MS });
        let got = 0;
        for await (const m of batch) {
          got++;
          pending = m.info.pending;
          last = m.seq;
          const decoded = decodeJson(m.data);
          const parsed = decoded.ok ? auditEventV1Schema.safeParse(decoded.value) : undefined;
          if (parsed?.success) items.push({ ...parsed.data, seq: m.seq });
          // A record of a later version or a damaged one: skipped here, kept in the stream.
          else this.logger.warn({ seq: m.seq, subject: m.subject }, 'audit record skipped: not a version 1 record');
        }
        if (got === 0) break;
      }
    } finally {
      await jsm.consumers.delete(stream, info.name).catch(() => undefined);
    }
    return { items, nextAfter: pending > 0 && last !== null ? last : null };
  }
}
