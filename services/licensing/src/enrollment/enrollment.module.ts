import { Module } from '@nestjs/common';
import { DeviceCredentialsService } from '../credentials/device-credentials.service';
import { OutboxModule } from '../outbox/outbox.module';
import { SeatsModule } from '../seats/seats.module';
import { EnrollmentNatsController } from './enrollment.nats.controller';
import { EnrollmentRepository } from './enrollment.repository';
import { EnrollmentService } from './enrollment.service';

/** Enrollment tokens, device enrollment and retirement, and the device credentials they issue and revoke. */
@Module({
  imports: [SeatsModule, OutboxModule],
  controllers: [EnrollmentNatsController],
  providers: [EnrollmentRepository, EnrollmentService, DeviceCredentialsService],
  exports: [EnrollmentService],
})
export class EnrollmentModule {}
