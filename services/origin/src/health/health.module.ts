import { Module } from '@nestjs/common';
import { ContentModule } from '../content/content.module';
import { HealthHttpController } from './health.http.controller';

@Module({
  imports: [ContentModule],
  controllers: [HealthHttpController],
})
export class HealthModule {}
