import { Module } from '@nestjs/common';
import { DeliveriesNatsController } from './deliveries.nats.controller';
import { DeliveriesRepository } from './deliveries.repository';
import { DeliveriesService } from './deliveries.service';
import { DeliveryWorker } from './delivery-worker';
import { EventIntakeConsumer } from './event-intake.consumer';

@Module({
  controllers: [DeliveriesNatsController],
  providers: [DeliveriesRepository, DeliveriesService, DeliveryWorker, EventIntakeConsumer],
  exports: [DeliveryWorker, EventIntakeConsumer],
})
export class DeliveriesModule {}
