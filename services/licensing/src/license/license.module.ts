import { Module } from '@nestjs/common';
import { OutboxModule } from '../outbox/outbox.module';
import { SeatsModule } from '../seats/seats.module';
import { LicenseExpiryWatcher } from './license-expiry.watcher';
import { LicenseNatsController } from './license.nats.controller';
import { LicenseService } from './license.service';
import { LicenseStoreModule } from './license-store.module';

/** The active license: installation over NATS and from LICENSE_KEY, its status, expiry notices. */
@Module({
  imports: [LicenseStoreModule, SeatsModule, OutboxModule],
  controllers: [LicenseNatsController],
  providers: [LicenseService, LicenseExpiryWatcher],
  exports: [LicenseService, LicenseExpiryWatcher],
})
export class LicenseModule {}
