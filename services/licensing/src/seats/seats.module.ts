import { Module } from '@nestjs/common';
import { LicenseStoreModule } from '../license/license-store.module';
import { OutboxModule } from '../outbox/outbox.module';
import { SeatsNatsController } from './seats.nats.controller';
import { SeatsRepository } from './seats.repository';
import { SeatsService } from './seats.service';
import { StaleSeatSweeper } from './stale-seat.sweeper';

/**
 * Seats. Import this module to call `SeatsService.assign` / `release` in-process (the enrolment
 * does); it needs the global providers the app module sets up (config, platform, TypeORM).
 */
@Module({
  imports: [LicenseStoreModule, OutboxModule],
  controllers: [SeatsNatsController],
  providers: [SeatsRepository, SeatsService, StaleSeatSweeper],
  exports: [SeatsService, StaleSeatSweeper],
})
export class SeatsModule {}
