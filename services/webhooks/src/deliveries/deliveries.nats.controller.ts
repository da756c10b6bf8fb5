import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { WebhooksRpc } from '@fleetcast/contracts';
import { handleRpc } from '@fleetcast/service-kit';
import { DeliveriesService } from './deliveries.service';

/** The delivery log and redelivery over NATS request/reply. */
@Controller()
export class DeliveriesNatsController {
  constructor(private readonly deliveries: DeliveriesService) {}

  @MessagePattern(WebhooksRpc.listDeliveries.subject)
  list(@Payload() payload: unknown) {
    return handleRpc(WebhooksRpc.listDeliveries, payload, (r) => this.deliveries.list({ subscriptionId: r.subscriptionId, state: r.state }, r.limit, r.offset));
  }

  @MessagePattern(WebhooksRpc.getDelivery.subject)
  get(@Payload() payload: unknown) {
    return handleRpc(WebhooksRpc.getDelivery, payload, (r) => this.deliveries.get(r.id));
  }

  @MessagePattern(WebhooksRpc.redeliver.subject)
  redeliver(@Payload() payload: unknown) {
    return handleRpc(WebhooksRpc.redeliver, payload, (r) => this.deliveries.redeliver(r.id));
  }
}
