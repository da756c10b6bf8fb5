import { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Streams } from '@fleetcast/contracts';
import { ensureStreams, NatsConnection } from '@fleetcast/nats';
import { runMigrations } from '@fleetcast/persistence';
import { httpTlsOf, NATS_CONNECTION, startService } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { AppModule, AppModuleOptions } from './app.module';
import { LICENSING_SCHEMA, LicensingConfig } from './config/licensing.config';
import { ActivationRunner } from './activation/activation.runner';
import { LicenseExpiryWatcher } from './license/license-expiry.watcher';
import { LicenseService } from './license/license.service';
import { LicensingOutbox } from './outbox/licensing-outbox.service';
import { StaleSeatSweeper } from './seats/stale-seat.sweeper';

/**
 * Starts the licensing service: HTTP (health, readiness, metrics), the RPC handlers in the
 * `licensing` queue group, the outbox relay, the license check and the stale-seat sweep. The order
 * matters: migrations before anything touches a table, the LICENSING_EVENTS stream before the relay
 * publishes into it, LICENSE_KEY installed before the first request is answered.
 */
export function startLicensing(config: LicensingConfig, logger: Logger, telemetry?: AppModuleOptions['telemetry']): Promise<INestApplication> {
  return startService({
    service: 'licensing',
    module: AppModule.register(config, { logger, telemetry }),
    logger,
    httpPort: config.HTTP_PORT,
    httpHost: config.HTTP_HOST,
    httpTls: httpTlsOf(config),
    rpc: { natsUrl: config.NATS_URL, queue: 'licensing', credsFile: config.NATS_CREDS_FILE, tlsCaFile: config.NATS_TLS_CA_FILE },
    beforeListen: async (app) => {
      if (config.MIGRATE_ON_START) {
        const applied = await runMigrations(app.get(DataSource), LICENSING_SCHEMA);
        if (applied.length > 0) logger.info({ applied }, 'migrations applied');
      }
      await ensureStreams(app.get<NatsConnection>(NATS_CONNECTION), [Streams.licensingEvents], { replicas: config.JETSTREAM_REPLICAS });
      app.get(LicensingOutbox).start();
      await app.get(LicenseService).installFromConfig();
      app.get(LicenseExpiryWatcher).start();
      app.get(StaleSeatSweeper).start();
      // A running activation left by an instance that died is taken up once its lease ends.
      app.get(ActivationRunner).start();
    },
  });
}
