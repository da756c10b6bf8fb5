import { Module } from '@nestjs/common';
import { OutboxModule } from '../outbox/outbox.module';
import { TopologyStoreModule } from '../topology/topology-store.module';
import { PlacementNatsController } from './placement.nats.controller';
import { PlacementRepository } from './placement.repository';
import { PlacementService } from './placement.service';
import { ScanPlacementConsumer } from './scan-placement.consumer';

/** Devices in offices: placement by scans, and the questions about a device. */
@Module({
  imports: [TopologyStoreModule, OutboxModule],
  controllers: [PlacementNatsController],
  providers: [PlacementRepository, PlacementService, ScanPlacementConsumer],
  exports: [PlacementRepository, ScanPlacementConsumer],
})
export class PlacementModule {}
