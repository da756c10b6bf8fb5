import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { WebhooksRpc } from '@fleetcast/contracts';
import { handleRpc } from '@fleetcast/service-kit';
import { SubscriptionsService } from './subscriptions.service';

/** Subscriptions over NATS request/reply (the gateway's `/v1/webhooks` routes call these). */
@Controller()
export class SubscriptionsNatsController {
  constructor(private readonly subscriptions: SubscriptionsService) {}

  @MessagePattern(WebhooksRpc.createSubscription.subject)
  create(@Payload() payload: unknown) {
    return handleRpc(WebhooksRpc.createSubscription, payload, (request) => this.subscriptions.create(request));
  }

  @MessagePattern(WebhooksRpc.updateSubscription.subject)
  update(@Payload() payload: unknown) {
    return handleRpc(WebhooksRpc.updateSubscription, payload, (request) => this.subscriptions.update(request.id, request.patch));
  }

  @MessagePattern(WebhooksRpc.deleteSubscription.subject)
  delete(@Payload() payload: unknown) {
    return handleRpc(WebhooksRpc.deleteSubscription, payload, (request) => this.subscriptions.delete(request.id));
  }

  @MessagePattern(WebhooksRpc.getSubscription.subject)
  get(@Payload() payload: unknown) {
    return handleRpc(WebhooksRpc.getSubscription, payload, (request) => this.subscriptions.get(request.id));
  }

  @MessagePattern(WebhooksRpc.listSubscriptions.subject)
  list(@Payload() payload: unknown) {
    return handleRpc(WebhooksRpc.listSubscriptions, payload, (request) => this.subscriptions.list(request.limit, request.offset));
  }
}
