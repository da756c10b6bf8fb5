import { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Streams } from '@fleetcast/contracts';
import { ensureStreams, NatsConnection } from '@fleetcast/nats';
import { httpTlsOf, NATS_CONNECTION, startService } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { AppModule, AppModuleOptions } from './app.module';
import { InventoryConfig } from './config/inventory.config';
import { runMigrations } from '@fleetcast/persistence';
import { INVENTORY_SCHEMA } from './config/inventory.config';
import { DevicesService } from './devices/devices.service';
import { ScanIngestConsumer } from './devices/scan-ingest.consumer';

/**
 * Starts the inventory: HTTP (health, readiness, metrics), the RPC handlers in the `inventory`
 * queue group (instances share the queries), and scan ingestion. The order matters: migrations
 * before the consumer, streams before the consumer (its durable and the dead-letter stream must
 * exist), stored agent versions judged against the configured range before targets are resolved
 * (a narrowed range must keep old agents out of the next task), and all of it before RPC traffic
 * is accepted.
 */
export function startInventory(config: InventoryConfig, logger: Logger, telemetry?: AppModuleOptions['telemetry']): Promise<INestApplication> {
  return startService({
    service: 'inventory',
    module: AppModule.register(config, { logger, telemetry }),
    logger,
    httpPort: config.HTTP_PORT,
    httpHost: config.HTTP_HOST,
    httpTls: httpTlsOf(config),
    rpc: { natsUrl: config.NATS_URL, queue: 'inventory', credsFile: config.NATS_CREDS_FILE, tlsCaFile: config.NATS_TLS_CA_FILE },
    beforeListen: async (app) => {
      if (config.MIGRATE_ON_START) {
        const applied = await runMigrations(app.get(DataSource), INVENTORY_SCHEMA);
        if (applied.length > 0) logger.info({ applied }, 'migrations applied');
      }
      await app.get(DevicesService).reevaluateAgentVersions();
      const streams = await ensureStreams(app.get<NatsConnection>(NATS_CONNECTION), [Streams.inventoryScans, Streams.deadLetters], { replicas: config.JETSTREAM_REPLICAS });
      if (streams.updated.length > 0) logger.info({ updated: streams.updated }, 'JetStream streams updated to their definitions');
      await app.get(ScanIngestConsumer).start();
    },
  });
}
