import { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Streams } from '@fleetcast/contracts';
import { ensureStreams, NatsConnection } from '@fleetcast/nats';
import { runMigrations } from '@fleetcast/persistence';
import { httpTlsOf, NATS_CONNECTION, startService } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { AppModule, AppModuleOptions } from './app.module';
import { TOPOLOGY_SCHEMA, TopologyConfig } from './config/topology.config';
import { TopologyOutbox } from './outbox/topology-outbox.service';
import { ScanPlacementConsumer } from './placement/scan-placement.consumer';

/**
 * Starts the topology service: HTTP (health, readiness, metrics), the RPC handlers in the `topology`
 * queue group, the outbox relay and the scan placement consumer. The order matters: migrations
 * before anything touches a table; the streams (its own, the scans it reads, the dead letters its
 * consumer writes to) before the relay publishes and the consumer pulls.
 */
export function startTopology(config: TopologyConfig, logger: Logger, telemetry?: AppModuleOptions['telemetry']): Promise<INestApplication> {
  return startService({
    service: 'topology',
    module: AppModule.register(config, { logger, telemetry }),
    logger,
    httpPort: config.HTTP_PORT,
    httpHost: config.HTTP_HOST,
    httpTls: httpTlsOf(config),
    rpc: { natsUrl: config.NATS_URL, queue: 'topology', credsFile: config.NATS_CREDS_FILE, tlsCaFile: config.NATS_TLS_CA_FILE },
    beforeListen: async (app) => {
      if (config.MIGRATE_ON_START) {
        const applied = await runMigrations(app.get(DataSource), TOPOLOGY_SCHEMA);
        if (applied.length > 0) logger.info({ applied }, 'migrations applied');
      }
      await ensureStreams(app.get<NatsConnection>(NATS_CONNECTION), [Streams.topologyEvents, Streams.inventoryScans, Streams.deadLetters], { replicas: config.JETSTREAM_REPLICAS });
      app.get(TopologyOutbox).start();
      await app.get(ScanPlacementConsumer).start();
    },
  });
}
