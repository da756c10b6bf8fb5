import { Module } from '@nestjs/common';
import { PackagesModule } from '../packages/packages.module';
import { OfficeDirectory } from './office-directory';
import { SwarmNatsController } from './swarm.nats.controller';
import { SwarmRepository } from './swarm.repository';
import { SwarmService } from './swarm.service';

/** Peer-to-peer inside offices: the swarm's view and the devices' peer passes (docs/p2p.md). */
@Module({
  imports: [PackagesModule],
  controllers: [SwarmNatsController],
  providers: [SwarmRepository, SwarmService, OfficeDirectory],
  // The tasks feature records each device's office for the task summary from the same cache.
  exports: [OfficeDirectory],
})
export class SwarmModule {}
