import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { WebhookDeliveryBody } from '@fleetcast/contracts';
import { LOGGER, METRICS } from '@fleetcast/service-kit';
import { counter, Logger, Registry } from '@fleetcast/telemetry';
import { Histogram } from 'prom-client';
import { WEBHOOKS_CONFIG, WebhooksConfig } from '../config/webhooks.config';
import { AttemptOutcome, ClaimedDelivery, DeliveriesRepository } from './deliveries.repository';
import { nextAttemptAt, RetryPolicy } from './retry-policy';
import { sendWebhook } from './webhook-sender';

/**
 * Sends due deliveries, up to WEBHOOK_CONCURRENCY at once per instance. Each is claimed for a lease
 * (twice the timeout, plus a second) in Postgres, so every instance of the service shares the work and a
 * delivery whose worker died is taken up again when its lease ends; it is then sent again under
 * the same delivery ID, which is what receivers de-duplicate on.
 */
@Injectable()
export class DeliveryWorker implements OnApplicationShutdown {
  private running = false;
  private inFlight = 0;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private readonly policy: RetryPolicy;
  private readonly attempts: ReturnType<typeof counter>;
  private readonly duration: Histogram;

  constructor(
    @Inject(WEBHOOKS_CONFIG) private readonly config: WebhooksConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) private readonly metrics: Registry,
    private readonly deliveries: DeliveriesRepository,
  ) {
    this.policy = { baseDelayMs: config.WEBHOOK_RETRY_BASE_MS, maxDelayMs: config.WEBHOOK_RETRY_MAX_MS, retryPeriodMs: config.WEBHOOK_RETRY_PERIOD_MS };
    this.attempts = counter(metrics, 'fleetcast_webhook_attempts_total', 'Webhook delivery attempts, by outcome (delivered, failed: retried later, dead: retries used up)', ['outcome']);
    this.duration = new Histogram({
      name: 'fleetcast_webhook_attempt_duration_seconds',
      help: 'Time from request to answer (or timeout) of webhook delivery attempts',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30],
      registers: [metrics],
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** New deliveries exist (an event was taken in, a redelivery asked for): look now, not at the next poll. */
  kick(): void {
    this.wake?.();
  }

  async onApplicationShutdown(): Promise<void> {
    this.running = false;
    this.kick();
    await this.loop;
  }

  private async run(): Promise<void> {
    // An attempt lasts at most the timeout; the rest covers writing its result.
    const lease = 2 * this.config.WEBHOOK_TIMEOUT_MS + 1_000;
    while (this.running) {
      const free = this.config.WEBHOOK_CONCURRENCY - this.inFlight;
      let claimed: ClaimedDelivery[] = [];
      if (free > 0) {
        try {
          claimed = await this.deliveries.claimDue(free, lease);
        } catch (error) {
          this.logger.warn({ err: (error as Error).message }, 'cannot claim webhook deliveries; trying again');
        }
      }
      for (const delivery of claimed) {
        this.inFlight++;
        void this.attempt(delivery).finally(() => {
          this.inFlight--;
          this.kick();
        });
      }
      // A full batch may have more behind it; otherwise wait for a kick or the poll.
      if (claimed.length === free && free > 0) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.config.WEBHOOK_POLL_MS);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const body: WebhookDeliveryBody = { id: delivery.id, type: delivery.eventType, eventId: delivery.eventId, createdAt: delivery.createdAt.toISOString(), data: delivery.payload };
    const result = await sendWebhook({
      url: delivery.url,
      secret: delivery.secret,
      deliveryId: delivery.id,
      eventType: delivery.eventType,
      body: JSON.stringify(body),
      timeoutMs: this.config.WEBHOOK_TIMEOUT_MS,
      allowed: this.config.WEBHOOK_ALLOWED_NETWORKS,
    });
    this.duration.observe(result.durationMs / 1000);
    let outcome: AttemptOutcome;
    if (result.error === null) outcome = { state: 'delivered' };
    else {
      const next = nextAttemptAt(delivery.attempts + 1, delivery.retryFrom.getTime(), Date.now(), this.policy);
      outcome = next === null ? { state: 'dead' } : { state: 'pending', nextAttemptAt: new Date(next) };
    }
    this.attempts.inc({ outcome: outcome.state === 'delivered' ? 'delivered' : outcome.state === 'dead' ? 'dead' : 'failed' });
    const log = { deliveryId: delivery.id, eventType: delivery.eventType, url: delivery.url, attempt: delivery.attempts + 1, status: result.status, ms: result.durationMs };
    if (outcome.state === 'dead') this.logger.warn({ ...log, err: result.error }, 'webhook delivery dead: retries used up (redeliver it through the API)');
    else if (outcome.state === 'pending') this.logger.info({ ...log, err: result.error, nextAttemptAt: outcome.nextAttemptAt.toISOString() }, 'webhook delivery failed; retrying later');
    else this.logger.debug(log, 'webhook delivered');
    try {
      await this.deliveries.recordAttempt(delivery.id, result, outcome);
    } catch (error) {
      // The lease ends and another attempt follows: the receiver sees the delivery ID again.
      this.logger.warn({ deliveryId: delivery.id, err: (error as Error).message }, 'cannot record a webhook attempt');
    }
  }
}
