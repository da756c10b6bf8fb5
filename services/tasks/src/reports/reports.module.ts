import { Module } from '@nestjs/common';
import { ReportsNatsController } from './reports.nats.controller';
import { ReportsRepository } from './reports.repository';

@Module({ controllers: [ReportsNatsController], providers: [ReportsRepository] })
export class ReportsModule {}
