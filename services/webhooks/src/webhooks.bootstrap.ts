import { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { WebhookEvents } from '@fleetcast/contracts';
import { ensureStreams, NatsConnection } from '@fleetcast/nats';
import { runMigrations } from '@fleetcast/persistence';
import { httpTlsOf, NATS_CONNECTION, startService } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { AppModule, AppModuleOptions } from './app.module';
import { WEBHOOKS_SCHEMA, WebhooksConfig } from './config/webhooks.config';
import { DeliveryWorker } from './deliveries/delivery-worker';
import { EventIntakeConsumer } from './deliveries/event-intake.consumer';

/**
 * Starts the webhooks service: HTTP (health, readiness, metrics), the RPC handlers in the
 * `webhooks` queue group, the event intake and the delivery workers. Migrations first; the streams
 * it reads exist before its consumers are created on them.
 */
export function startWebhooks(config: WebhooksConfig, logger: Logger, telemetry?: AppModuleOptions['telemetry']): Promise<INestApplication> {
  return startService({
    service: 'webhooks',
    module: AppModule.register(config, { logger, telemetry }),
    logger,
    httpPort: config.HTTP_PORT,
    httpHost: config.HTTP_HOST,
    httpTls: httpTlsOf(config),
    rpc: { natsUrl: config.NATS_URL, queue: 'webhooks', credsFile: config.NATS_CREDS_FILE, tlsCaFile: config.NATS_TLS_CA_FILE },
    beforeListen: async (app) => {
      if (config.MIGRATE_ON_START) {
        const applied = await runMigrations(app.get(DataSource), WEBHOOKS_SCHEMA);
        if (applied.length > 0) logger.info({ applied }, 'migrations applied');
      }
      // The streams of every event type it forwards (WebhookEvents), whoever else creates them.
      await ensureStreams(app.get<NatsConnection>(NATS_CONNECTION), [...new Set(Object.values(WebhookEvents).map((e) => e.stream))], { replicas: config.JETSTREAM_REPLICAS });
      app.get(DeliveryWorker).start();
      await app.get(EventIntakeConsumer).start();
    },
  });
}
