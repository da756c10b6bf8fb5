import { Module } from '@nestjs/common';
import { ContentModule } from '../content/content.module';
import { MetricsModule } from '../metrics/metrics.module';
import { UploadSessionsService } from './upload-sessions.service';
import { UploadStoreRepository } from './upload-store.repository';
import { UploadsHttpController } from './uploads.http.controller';

@Module({
  imports: [MetricsModule, ContentModule],
  controllers: [UploadsHttpController],
  providers: [UploadSessionsService, UploadStoreRepository],
})
export class UploadsModule {}
