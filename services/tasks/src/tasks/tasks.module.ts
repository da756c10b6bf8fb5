import { Module } from '@nestjs/common';
import { OutboxService } from '../outbox/outbox.service';
import { PackagesModule } from '../packages/packages.module';
import { ProfilesModule } from '../profiles/profiles.module';
import { SwarmModule } from '../swarm/swarm.module';
import { AssignmentScheduler } from './assignment-scheduler';
import { LiveEventsPublisher } from './live-events.publisher';
import { OfficeRecorder } from './office-recorder';
import { StatusIngestConsumer } from './status-ingest.consumer';
import { TasksNatsController } from './tasks.nats.controller';
import { TasksRepository } from './tasks.repository';
import { TasksService } from './tasks.service';

@Module({
  imports: [PackagesModule, ProfilesModule, SwarmModule],
  controllers: [TasksNatsController],
  providers: [TasksRepository, TasksService, LiveEventsPublisher, OutboxService, AssignmentScheduler, StatusIngestConsumer, OfficeRecorder],
})
export class TasksModule {}
