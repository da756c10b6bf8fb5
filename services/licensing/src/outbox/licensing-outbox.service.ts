import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { enqueueOutbox, OutboxMessage, OutboxRelay } from '@fleetcast/persistence';
import { NatsConnection } from '@fleetcast/nats';
import { LOGGER, METRICS, NATS_CONNECTION } from '@fleetcast/service-kit';
import type { Logger, Registry } from '@fleetcast/telemetry';
import { LICENSING_SCHEMA } from '../config/licensing.config';

/**
 * The licensing service's transactional outbox: events are enqueued in the transaction that
 * changes the state they announce, and published to JetStream (LICENSING_EVENTS) once it commits.
 * The relay starts explicitly, after the stream exists (see the bootstrap).
 */
@Injectable()
export class LicensingOutbox implements OnApplicationShutdown {
  private readonly relay: OutboxRelay;

  constructor(
    @InjectDataSource() dataSource: DataSource,
    @Inject(NATS_CONNECTION) nc: NatsConnection,
    @Inject(LOGGER) logger: Logger,
    @Inject(METRICS) metrics: Registry,
  ) {
    this.relay = new OutboxRelay({ dataSource, schema: LICENSING_SCHEMA, nc, logger, metrics });
  }

  enqueue(manager: EntityManager, messages: OutboxMessage[]): Promise<void> {
    return enqueueOutbox(manager, LICENSING_SCHEMA, messages);
  }

  /** Publish now; call after the transaction that enqueued committed (otherwise the relay's poll finds it within half a second). */
  kick(): void {
    this.relay.kick();
  }

  start(): void {
    this.relay.start();
  }

  onApplicationShutdown(): void {
    this.relay.stop();
  }
}
