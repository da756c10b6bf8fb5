import type { Server } from 'node:http';
import { INestApplication } from '@nestjs/common';
import { startService } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { AppModule } from './app.module';
import { OriginConfig } from './config/origin.config';

/**
 * A connection that moves no byte for this long is dropped (and an upload on it discarded). Long
 * enough for a WAN link that stalls for a minute; short enough that dead uploads do not pile up.
 */
export const IDLE_SOCKET_TIMEOUT_MS = 120_000;

/**
 * Starts the origin and resolves once it listens. Main and the tests both start it this way, so
 * both get the same server.
 */
export function startOriginApp(config: OriginConfig, logger: Logger, telemetry?: { shutdown(): Promise<void> }): Promise<INestApplication> {
  return startService({
    service: 'origin',
    module: AppModule.forRoot(config, logger, telemetry),
    logger,
    httpPort: config.port,
    httpHost: config.host,
    httpTls: config.httpTls,
    // No body parser: uploads are read as a stream by their route, never buffered.
    rawBody: true,
    beforeListen: async (app) => {
      // Say nothing about the software behind the origin to whoever asks.
      (app.getHttpAdapter().getInstance() as { disable(setting: string): void }).disable('x-powered-by');
      const server = app.getHttpServer() as Server;
      // Node ends any request after 300 s by default, which would cut a 2 GiB upload on a link slower
      // than about 57 Mbit/s. Transfers are bounded by inactivity instead.
      server.requestTimeout = 0;
      server.setTimeout(IDLE_SOCKET_TIMEOUT_MS);
      logger.info({ storeDir: config.storeDir, writesNeedToken: config.apiTokens.length > 0 }, 'content store open');
    },
  });
}
