import { Module } from '@nestjs/common';
import { PlansHttpController } from './plans.http.controller';
import { PlansService } from './plans.service';

@Module({ controllers: [PlansHttpController], providers: [PlansService] })
export class PlansModule {}
