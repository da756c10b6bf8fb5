import { Injectable } from '@nestjs/common';
import { ErrorCode, FleetcastError, WebhookDelivery, WebhookDeliveryState } from '@fleetcast/contracts';
import { DeliveriesRepository } from './deliveries.repository';
import { DeliveryWorker } from './delivery-worker';

/** The delivery log and manual redelivery. */
@Injectable()
export class DeliveriesService {
  constructor(
    private readonly deliveries: DeliveriesRepository,
    private readonly worker: DeliveryWorker,
  ) {}

  list(filter: { subscriptionId?: string; state?: WebhookDeliveryState }, limit: number, offset: number) {
    return this.deliveries.list(filter, limit, offset);
  }

  async get(id: string) {
    const delivery = await this.deliveries.find(id);
    if (delivery === null) throw notFound(id);
    return { ...delivery, attemptLog: await this.deliveries.attempts(id) };
  }

  async redeliver(id: string): Promise<WebhookDelivery> {
    const delivery = await this.deliveries.redeliver(id);
    if (delivery === null) throw notFound(id);
    this.worker.kick();
    return delivery;
  }
}

function notFound(id: string): FleetcastError {
  return new FleetcastError(ErrorCode.WebhookDeliveryNotFound, `webhook delivery ${id} not found`);
}
