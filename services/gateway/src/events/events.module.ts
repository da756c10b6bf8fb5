import { Module } from '@nestjs/common';
import { EventsHttpController } from './events.http.controller';
import { LiveEventsService } from './live-events.service';

@Module({ controllers: [EventsHttpController], providers: [LiveEventsService] })
export class EventsModule {}
