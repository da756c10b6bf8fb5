import { BeforeApplicationShutdown, Inject, Injectable, Optional } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { AUDIT_LOG_DEFAULT_WINDOW_SECONDS, AuditEventV1, AuditLogPage, AuditLogQuery, ErrorCode, FleetcastError } from '@fleetcast/contracts';
import { LOGGER, METRICS } from '@fleetcast/service-kit';
import { counter, Counter, Logger, Registry } from '@fleetcast/telemetry';
import { AuditLogRepository } from './audit-log.repository';

/**
 * Pauses before each retry of a record's publish: a NATS server restarting or a leader election takes
 * seconds; beyond ~7 s the record is given up on (and logged in full instead).
 */
export const AUDIT_RETRY_DELAYS_MS: readonly number[] = [250, 1_000, 5_000];
/** Injection token to shorten the delays (tests). */
export const AUDIT_RETRY_DELAYS = Symbol('AUDIT_RETRY_DELAYS');
/** At shutdown, records still being published are waited for this long at most. */
const SHUTDOWN_FLUSH_MS = 10_000;

/**
 * Records state-changing requests in the audit log, and reads it back.
 *
 * A record is published after the response is decided, so that it says how the request ended; the
 * request is never held up by the log. A request that changed state must not go unrecorded: a
 * failed publish is retried (the request ID as message ID makes a retry harmless), and once the
 * retries are spent the record is written to the service's log at error level, in full, and counted
 * in `fleetcast_gateway_audit_publish_failures_total` to alert on.
 */
@Injectable()
export class AuditService implements BeforeApplicationShutdown {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly failures: Counter<string>;

  constructor(
    private readonly repository: AuditLogRepository,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) registry: Registry,
    @Optional() @Inject(AUDIT_RETRY_DELAYS) private readonly retryDelaysMs: readonly number[] = AUDIT_RETRY_DELAYS_MS,
  ) {
    this.failures = counter(registry, 'fleetcast_gateway_audit_publish_failures_total', 'Audit records that could not be stored in the audit log after every retry (each is in the log at error level instead)');
  }

  /** Starts storing a record; returns at once (the returned promise settles when it is stored or given up on, never rejects). */
  record(event: AuditEventV1): Promise<void> {
    const done = this.store(event).finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
    return done;
  }

  private async store(event: AuditEventV1): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.repository.append(event);
        return;
      } catch (error) {
        const delay = this.retryDelaysMs[attempt];
        if (delay === undefined) {
          this.failures.inc();
          // The record itself goes with it: the log is where it survives now. It holds no secret.
          this.logger.error({ audit: event, err: error, attempts: attempt + 1 }, 'audit record could not be stored in the audit log');
          return;
        }
        this.logger.warn({ requestId: event.requestId, reason: (error as Error).message, attempt: attempt + 1 }, 'audit record not stored yet; retrying');
        await sleep(delay);
      }
    }
  }

  /** Lets the records of the last requests reach the log before the NATS connection closes. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.inFlight.size === 0) return;
    const flushed = Promise.allSettled([...this.inFlight]).then(() => true);
    if (!(await Promise.race([flushed, sleep(SHUTDOWN_FLUSH_MS, false, { ref: false })]))) {
      this.logger.error({ pending: this.inFlight.size }, 'shutting down with audit records still unstored');
    }
  }

  /** A page of the log, oldest first: from `after`, else from `since`, else from a day ago. */
  async read(query: AuditLogQuery, now: Date = new Date()): Promise<AuditLogPage> {
    const start =
      query.after !== undefined
        ? { after: query.after }
        : { since: query.since !== undefined ? new Date(query.since) : new Date(now.getTime() - AUDIT_LOG_DEFAULT_WINDOW_SECONDS * 1000) };
    try {
      return await this.repository.read(start, query.limit, query.actor);
    } catch (error) {
      throw new FleetcastError(ErrorCode.Unavailable, `the audit log could not be read: ${(error as Error).message}`);
    }
  }
}
