import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { OutboxRelay } from '@fleetcast/persistence';
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
export class LicensingOutbox extends OutboxRelay implements OnApplicationShutdown {
  constructor(
    @InjectDataSource() dataSource: DataSource,
    @Inject(NATS_CONNECTION) nc: NatsConnection,
    @Inject(LOGGER) logger: Logger,
    @Inject(METRICS) metrics: Registry,
  ) {
    super({ dataSource, schema: LICENSING_SCHEMA, nc, logger, metrics });
  }

  onApplicationShutdown(): void {
    this.stop();
  }
}
