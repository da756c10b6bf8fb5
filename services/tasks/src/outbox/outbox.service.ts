import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { OutboxRelay } from '@fleetcast/persistence';
import { NatsConnection } from '@fleetcast/nats';
import { LOGGER, METRICS, NATS_CONNECTION } from '@fleetcast/service-kit';
import type { Logger, Registry } from '@fleetcast/telemetry';
import { TASKS_SCHEMA } from '../database/tasks-data-source';

/**
 * The tasks service's transactional outbox (`enqueue` inside a transaction, `kick` after it
 * commits), relayed from start-up to shutdown.
 */
@Injectable()
export class OutboxService extends OutboxRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @InjectDataSource() dataSource: DataSource,
    @Inject(NATS_CONNECTION) nc: NatsConnection,
    @Inject(LOGGER) logger: Logger,
    @Inject(METRICS) metrics: Registry,
  ) {
    super({ dataSource, schema: TASKS_SCHEMA, nc, logger, metrics });
  }

  onApplicationBootstrap(): void {
    this.start();
  }

  onApplicationShutdown(): void {
    this.stop();
  }
}
