import { Module } from '@nestjs/common';
import { SubscriptionsNatsController } from './subscriptions.nats.controller';
import { SubscriptionsRepository } from './subscriptions.repository';
import { SubscriptionsService } from './subscriptions.service';

@Module({
  controllers: [SubscriptionsNatsController],
  providers: [SubscriptionsRepository, SubscriptionsService],
  exports: [SubscriptionsRepository],
})
export class SubscriptionsModule {}
