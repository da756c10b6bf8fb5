import { INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import { Streams } from '@fleetcast/contracts';
import { ensureStreams, NatsConnection } from '@fleetcast/nats';
import { NATS_CONNECTION, startService } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { AppModule } from './app.module';
import { GatewayConfig } from './config/gateway.config';
import { ApiDocsService } from './docs/api-docs.service';

/**
 * A connection that sends nothing for this long is dropped. Generous, because a slow WAN link and
 * an origin busy writing to disk can both pause a healthy upload for a while.
 */
export const IDLE_CONNECTION_TIMEOUT_MS = 120_000;

/** Starts the gateway's HTTP server; resolves once it listens. */
export function startGateway(config: GatewayConfig, logger: Logger, telemetry?: { shutdown(): Promise<void> }): Promise<INestApplication> {
  if (config.authDisabled) logger.warn('AUTH_DISABLED=true: the API accepts requests without a token');
  for (const token of config.apiTokens.filter((t) => t.storedInClear)) {
    // The name only: the token itself must not reach a log.
    logger.warn(
      { token: token.name, scope: token.scope },
      `API token ${token.name} is stored in clear in API_TOKENS and has the admin scope: replace it with a hashed entry (api-token hash --name <name> --scope <scope> reads it on stdin)`,
    );
  }
  return startService({
    service: 'gateway',
    module: AppModule.register(config, logger, telemetry),
    logger,
    httpPort: config.httpPort,
    httpHost: config.httpHost,
    httpTls: config.httpTls,
    // Nest's global JSON parser would also read the upload route; the gateway parses JSON itself, elsewhere.
    rawBody: true,
    beforeListen: async (app) => {
      // The audit log's stream must exist before the first request is answered, or its record has nowhere to go.
      const streams = await ensureStreams(app.get<NatsConnection>(NATS_CONNECTION), [Streams.auditLog], { replicas: config.jetstreamReplicas });
      if (streams.created.length > 0 || streams.updated.length > 0) logger.info(streams, 'JetStream streams updated to their definitions');
      app.get(ApiDocsService).build(app);
      // Nothing gains from announcing the framework to every client.
      (app.getHttpAdapter().getInstance() as { disable(setting: string): void }).disable('x-powered-by');
      const server = app.getHttpServer() as Server;
      // Node ends any request after 5 minutes by default; a 64 GiB upload takes hours. Stalled
      // connections are still dropped, by the idle timeout instead.
      server.requestTimeout = 0;
      server.timeout = IDLE_CONNECTION_TIMEOUT_MS;
    },
  });
}
