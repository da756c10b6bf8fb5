import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { OutboxRelay } from '@fleetcast/persistence';
import { NatsConnection } from '@fleetcast/nats';
import { LOGGER, METRICS, NATS_CONNECTION } from '@fleetcast/service-kit';
import type { Logger, Registry } from '@fleetcast/telemetry';
import { TOPOLOGY_SCHEMA } from '../config/topology.config';

/**
 * The topology service's transactional outbox: `topology.changed` and `device.placed` are enqueued
 * in the transaction that stores the version or the placement, and published to JetStream
 * (TOPOLOGY_EVENTS) once it commits. The relay starts explicitly, after the stream exists.
 */
@Injectable()
export class TopologyOutbox extends OutboxRelay implements OnApplicationShutdown {
  constructor(
    @InjectDataSource() dataSource: DataSource,
    @Inject(NATS_CONNECTION) nc: NatsConnection,
    @Inject(LOGGER) logger: Logger,
    @Inject(METRICS) metrics: Registry,
  ) {
    super({ dataSource, schema: TOPOLOGY_SCHEMA, nc, logger, metrics });
  }

  onApplicationShutdown(): void {
    this.stop();
  }
}
