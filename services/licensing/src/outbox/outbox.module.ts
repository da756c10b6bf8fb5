import { Module } from '@nestjs/common';
import { LicensingOutbox } from './licensing-outbox.service';

@Module({ providers: [LicensingOutbox], exports: [LicensingOutbox] })
export class OutboxModule {}
