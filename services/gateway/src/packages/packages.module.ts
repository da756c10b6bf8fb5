import { Module } from '@nestjs/common';
import { ContentUploadService } from './content-upload.service';
import { PackagesHttpController } from './packages.http.controller';

@Module({
  controllers: [PackagesHttpController],
  providers: [ContentUploadService],
})
export class PackagesModule {}
