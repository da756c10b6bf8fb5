import { Module } from '@nestjs/common';
import { TasksHttpController } from './tasks.http.controller';

@Module({ controllers: [TasksHttpController] })
export class TasksModule {}
