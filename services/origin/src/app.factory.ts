import { Server } from 'node:http';
import { ConsoleLogger, INestApplication, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { OriginConfig } from './config/origin.config';

/**
 * A connection that moves no byte for this long is dropped (and an upload on it discarded). Long
 * enough for a WAN link that stalls for a minute; short enough that dead uploads do not pile up.
 */
const IDLE_SOCKET_TIMEOUT_MS = 120_000;

export interface OriginAppOptions {
  /** Defaults to one JSON object a line. */
  logger?: LoggerService | LogLevel[] | false;
}

/** Builds the origin app; main and the tests both start it this way, so both get the same server. */
export async function createOriginApp(config: OriginConfig, options: OriginAppOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule.forRoot(config), {
    // No body parser: uploads are read as a stream by their route, never buffered.
    bodyParser: false,
    // Throw start-up errors to the caller instead of exiting, so it can report them.
    abortOnError: false,
    logger: options.logger ?? new ConsoleLogger({ json: true }),
  });
  // Say nothing about the software behind the origin to whoever asks.
  (app.getHttpAdapter().getInstance() as { disable(setting: string): void }).disable('x-powered-by');
  const server = app.getHttpServer() as Server;
  // Node ends any request after 300 s by default, which would cut a 2 GiB upload on a link slower
  // than about 57 Mbit/s. Transfers are bounded by inactivity instead.
  server.requestTimeout = 0;
  server.setTimeout(IDLE_SOCKET_TIMEOUT_MS);
  return app;
}
