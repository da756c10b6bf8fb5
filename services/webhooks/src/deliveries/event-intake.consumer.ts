import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { WEBHOOK_EVENT_TYPES, webhookConsumerOf, WebhookEvents, WebhookEventType } from '@fleetcast/contracts';
import { ConsumedMessage, DurableConsumer, NatsConnection } from '@fleetcast/nats';
import { LOGGER, METRICS, NATS_CONNECTION } from '@fleetcast/service-kit';
import { counter, Logger, Registry } from '@fleetcast/telemetry';
import { DeliveriesRepository } from './deliveries.repository';
import { DeliveryWorker } from './delivery-worker';

/**
 * Turns events into deliveries: one durable consumer per event type (shared by the service's
 * instances), each batch in one transaction, acknowledged only after it committed. The event's ID
 * is the message ID its service's outbox published it with, so an event republished after a crash
 * (or redelivered by JetStream) makes no second delivery.
 */
@Injectable()
export class EventIntakeConsumer implements OnApplicationShutdown {
  private readonly consumers: Array<DurableConsumer<unknown>> = [];
  private readonly taken: ReturnType<typeof counter>;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) private readonly metrics: Registry,
    private readonly deliveries: DeliveriesRepository,
    private readonly worker: DeliveryWorker,
  ) {
    this.taken = counter(metrics, 'fleetcast_webhook_deliveries_created_total', 'Webhook deliveries created from events, by event type', ['type']);
  }

  async start(): Promise<void> {
    for (const type of WEBHOOK_EVENT_TYPES) {
      const event = WebhookEvents[type];
      const consumer = new DurableConsumer<unknown>({
        nc: this.nc,
        consumer: webhookConsumerOf(type),
        versions: { [event.source.version]: event.source.schema },
        handleBatch: (items) => this.take(type, items),
        logger: this.logger,
        metrics: this.metrics,
      });
      await consumer.start();
      this.consumers.push(consumer);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.stop()));
  }

  private async take(type: WebhookEventType, items: ConsumedMessage<unknown>[]): Promise<void> {
    const created = await this.deliveries.transaction(async (m) => {
      let n = 0;
      for (const item of items) {
        const eventId = item.headers?.get('Nats-Msg-Id') || `${WebhookEvents[type].stream.name}:${item.streamSeq}`;
        n += await this.deliveries.createForEvent(m, { eventId, type, payload: item.data });
      }
      return n;
    });
    if (created > 0) {
      this.taken.inc({ type }, created);
      this.worker.kick();
    }
  }
}
