import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { enqueueOutbox, OutboxMessage, OutboxRelay } from '@fleetcast/persistence';
import { NatsConnection } from '@fleetcast/nats';
import { LOGGER, METRICS, NATS_CONNECTION } from '@fleetcast/service-kit';
import type { Logger, Registry } from '@fleetcast/telemetry';
import { TASKS_SCHEMA } from '../data-source';

/** The tasks service's transactional outbox: enqueue inside a transaction, published after commit. */
@Injectable()
export class OutboxService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly relay: OutboxRelay;

  constructor(
    @InjectDataSource() dataSource: DataSource,
    @Inject(NATS_CONNECTION) nc: NatsConnection,
    @Inject(LOGGER) logger: Logger,
    @Inject(METRICS) metrics: Registry,
  ) {
    this.relay = new OutboxRelay({ dataSource, schema: TASKS_SCHEMA, nc, logger, metrics });
  }

  enqueue(manager: EntityManager, messages: OutboxMessage[]): Promise<void> {
    return enqueueOutbox(manager, TASKS_SCHEMA, messages);
  }

  /** Call after the transaction that enqueued committed. */
  kick(): void {
    this.relay.kick();
  }

  onApplicationBootstrap(): void {
    this.relay.start();
  }

  onApplicationShutdown(): void {
    this.relay.stop();
  }
}
