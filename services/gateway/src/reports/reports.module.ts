import { Module } from '@nestjs/common';
import { ReportsHttpController } from './reports.http.controller';
import { ReportsService } from './reports.service';

@Module({ controllers: [ReportsHttpController], providers: [ReportsService] })
export class ReportsModule {}
