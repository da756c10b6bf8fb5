import { Module } from '@nestjs/common';
import { LicenseHttpController } from './license.http.controller';

@Module({ controllers: [LicenseHttpController] })
export class LicenseModule {}
