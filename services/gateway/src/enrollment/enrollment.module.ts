import { Module } from '@nestjs/common';
import { EnrollHttpController, EnrollmentHttpController } from './enrollment.http.controller';

@Module({ controllers: [EnrollmentHttpController, EnrollHttpController] })
export class EnrollmentModule {}
