import { Module } from '@nestjs/common';
import { WebhooksHttpController } from './webhooks.http.controller';

@Module({ controllers: [WebhooksHttpController] })
export class WebhooksModule {}
