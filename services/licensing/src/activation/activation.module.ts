import { Module } from '@nestjs/common';
import { LicenseModule } from '../license/license.module';
import { OutboxModule } from '../outbox/outbox.module';
import { ActivationNatsController } from './activation.nats.controller';
import { ActivationRepository } from './activation.repository';
import { ActivationRunner } from './activation.runner';
import { ActivationService } from './activation.service';

/** Activation: puts the configuration into force (license, topology, content, devices), resumably. */
@Module({
  imports: [LicenseModule, OutboxModule],
  controllers: [ActivationNatsController],
  providers: [ActivationRepository, ActivationRunner, ActivationService],
  exports: [ActivationRunner],
})
export class ActivationModule {}
