import { Module } from '@nestjs/common';
import { OutboxModule } from '../outbox/outbox.module';
import { PlacementModule } from '../placement/placement.module';
import { TopologyNatsController } from './topology.nats.controller';
import { TopologyService } from './topology.service';
import { TopologyStoreModule } from './topology-store.module';

/** Topology versions: upload, validation, history, drafts from the inventory. */
@Module({
  imports: [TopologyStoreModule, PlacementModule, OutboxModule],
  controllers: [TopologyNatsController],
  providers: [TopologyService],
  exports: [TopologyService],
})
export class TopologyModule {}
