import { Module } from '@nestjs/common';
import { ReadinessService } from '@fleetcast/service-kit';
import { MetricsModule } from '../metrics/metrics.module';
import { ContentHttpController } from './content.http.controller';
import { ContentService } from './content.service';
import { ContentStoreRepository } from './content-store.repository';

@Module({
  imports: [MetricsModule],
  controllers: [ContentHttpController],
  providers: [ContentService, ContentStoreRepository],
  exports: [ContentService, ContentStoreRepository],
})
export class ContentModule {
  constructor(readiness: ReadinessService, content: ContentService) {
    // Ready only while uploads can be stored: a full or read-only store takes the origin out of rotation.
    readiness.register('store', () => content.checkStoreWritable());
  }
}
