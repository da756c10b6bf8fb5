import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { idSchema, WebhooksRpc } from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { RequiresScope } from '../auth/requires-scope.decorator';
import { ApiContractBody, ApiContractQuery, ApiContractResponse, ApiErrorResponses, ApiIdParam } from '../common/openapi.decorators';
import { ZodValidationPipe } from '../common/zod-validation.pipe';

const createBody = WebhooksRpc.createSubscription.request;
const patchBody = WebhooksRpc.updateSubscription.request.shape.patch;
const listQuery = WebhooksRpc.listSubscriptions.request;
const deliveriesQuery = WebhooksRpc.listDeliveries.request.omit({ subscriptionId: true });
const allDeliveriesQuery = WebhooksRpc.listDeliveries.request;

/**
 * Webhook subscriptions and their deliveries. Creating or changing a subscription makes the control
 * plane send data to a URL of the caller's choosing, with a secret that signs it: admin only.
 */
@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('v1')
export class WebhooksHttpController {
  constructor(private readonly rpc: RpcClient) {}

  @Post('webhooks')
  @RequiresScope('admin')
  @ApiOperation({ summary: 'Subscribe a URL to events (the signing secret is shown in this answer only; one is made when none is given)' })
  @ApiContractBody(createBody)
  @ApiContractResponse(WebhooksRpc.createSubscription.response, 201)
  @ApiErrorResponses(400, 401, 403, 422, 503)
  create(@Body(new ZodValidationPipe(createBody)) body: z.output<typeof createBody>) {
    return this.rpc.call(WebhooksRpc.createSubscription, body);
  }

  @Get('webhooks')
  @ApiOperation({ summary: 'List webhook subscriptions (never their secrets)' })
  @ApiContractQuery(listQuery)
  @ApiContractResponse(WebhooksRpc.listSubscriptions.response)
  @ApiErrorResponses(400, 401, 503)
  list(@Query(new ZodValidationPipe(listQuery)) query: z.output<typeof listQuery>) {
    return this.rpc.call(WebhooksRpc.listSubscriptions, query);
  }

  @Get('webhooks/:id')
  @ApiOperation({ summary: 'Get a webhook subscription' })
  @ApiIdParam()
  @ApiContractResponse(WebhooksRpc.getSubscription.response)
  @ApiErrorResponses(400, 401, 404, 503)
  get(@Param('id', new ZodValidationPipe(idSchema)) id: string) {
    return this.rpc.call(WebhooksRpc.getSubscription, { id });
  }

  @Patch('webhooks/:id')
  @RequiresScope('admin')
  @ApiOperation({ summary: 'Change a subscription: URL, events, secret (rotate it), enabled, description' })
  @ApiIdParam()
  @ApiContractBody(patchBody)
  @ApiContractResponse(WebhooksRpc.updateSubscription.response)
  @ApiErrorResponses(400, 401, 403, 404, 422, 503)
  update(@Param('id', new ZodValidationPipe(idSchema)) id: string, @Body(new ZodValidationPipe(patchBody)) patch: z.output<typeof patchBody>) {
    return this.rpc.call(WebhooksRpc.updateSubscription, { id, patch });
  }

  @Delete('webhooks/:id')
  @RequiresScope('admin')
  @ApiOperation({ summary: 'Delete a subscription: its pending deliveries end (dead); the log is kept' })
  @ApiIdParam()
  @ApiContractResponse(WebhooksRpc.deleteSubscription.response)
  @ApiErrorResponses(400, 401, 403, 404, 503)
  delete(@Param('id', new ZodValidationPipe(idSchema)) id: string) {
    return this.rpc.call(WebhooksRpc.deleteSubscription, { id });
  }

  @Get('webhooks/:id/deliveries')
  @ApiOperation({ summary: "A subscription's deliveries, newest first (state: pending, delivered, dead)" })
  @ApiIdParam()
  @ApiContractQuery(deliveriesQuery)
  @ApiContractResponse(WebhooksRpc.listDeliveries.response)
  @ApiErrorResponses(400, 401, 503)
  subscriptionDeliveries(@Param('id', new ZodValidationPipe(idSchema)) id: string, @Query(new ZodValidationPipe(deliveriesQuery)) query: z.output<typeof deliveriesQuery>) {
    return this.rpc.call(WebhooksRpc.listDeliveries, { ...query, subscriptionId: id });
  }

  @Get('webhook-deliveries')
  @ApiOperation({ summary: 'Every delivery, newest first (filter by subscription and state)' })
  @ApiContractQuery(allDeliveriesQuery)
  @ApiContractResponse(WebhooksRpc.listDeliveries.response)
  @ApiErrorResponses(400, 401, 503)
  deliveries(@Query(new ZodValidationPipe(allDeliveriesQuery)) query: z.output<typeof allDeliveriesQuery>) {
    return this.rpc.call(WebhooksRpc.listDeliveries, query);
  }

  @Get('webhook-deliveries/:id')
  @ApiOperation({ summary: 'A delivery with the log of its attempts (status, error, duration)' })
  @ApiIdParam()
  @ApiContractResponse(WebhooksRpc.getDelivery.response)
  @ApiErrorResponses(400, 401, 404, 503)
  delivery(@Param('id', new ZodValidationPipe(idSchema)) id: string) {
    return this.rpc.call(WebhooksRpc.getDelivery, { id });
  }

  @Post('webhook-deliveries/:id/redeliver')
  @HttpCode(200)
  @ApiOperation({ summary: 'Attempt a delivery again now, with a fresh retry period (a dead one too)' })
  @ApiIdParam()
  @ApiContractResponse(WebhooksRpc.redeliver.response)
  @ApiErrorResponses(400, 401, 404, 503)
  redeliver(@Param('id', new ZodValidationPipe(idSchema)) id: string) {
    return this.rpc.call(WebhooksRpc.redeliver, { id });
  }
}
