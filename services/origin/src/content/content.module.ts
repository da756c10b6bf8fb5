import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { ContentHttpController } from './content.http.controller';
import { ContentService } from './content.service';
import { ContentStoreRepository } from './content-store.repository';

@Module({
  imports: [MetricsModule],
  controllers: [ContentHttpController],
  providers: [ContentService, ContentStoreRepository],
  exports: [ContentService],
})
export class ContentModule {}
