import { Module } from '@nestjs/common';
import { ContentUploadService } from './content-upload.service';
import { PackagesHttpController } from './packages.http.controller';
import { UploadSessionsService } from './upload-sessions.service';
import { UploadsHttpController } from './uploads.http.controller';

@Module({
  controllers: [PackagesHttpController, UploadsHttpController],
  providers: [ContentUploadService, UploadSessionsService],
})
export class PackagesModule {}
