import { Module } from '@nestjs/common';
import { ActivationHttpController } from './activation.http.controller';

@Module({ controllers: [ActivationHttpController] })
export class ActivationModule {}
