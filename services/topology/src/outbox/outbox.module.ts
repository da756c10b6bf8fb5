import { Module } from '@nestjs/common';
import { TopologyOutbox } from './topology-outbox.service';

@Module({ providers: [TopologyOutbox], exports: [TopologyOutbox] })
export class OutboxModule {}
