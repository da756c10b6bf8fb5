import { DynamicModule, INestApplication, INestMicroservice, LoggerService } from '@nestjs/common';
import type { MicroserviceOptions } from '@nestjs/microservices';
import type { Logger } from '@fleetcast/telemetry';
import { NatsConnection, natsAuthenticator, natsServers } from '@fleetcast/nats';
import { readFileSync } from 'node:fs';
import type { HttpTls } from './config';
import { ContractDeserializer, ContractSerializer } from './nats-transport';
import { HttpErrorFilter, RpcErrorFilter } from './errors';
import { RpcTraceInterceptor } from './rpc-trace.interceptor';

/** Nest's logger interface over the service's structured logger. */
export class NestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}

export interface StartServiceOptions {
  service: string;
  module: DynamicModule;
  logger: Logger;
  httpPort: number;
  httpHost: string;
  /** Serve the service's RPC handlers on NATS in this queue group (instances share requests). */
  rpc?: { natsUrl: string; queue: string; credsFile?: string; tlsCaFile?: string };
  /** Runs after the module is initialised and before traffic is accepted (migrations, consumers). */
  beforeListen?: (app: INestApplication) => Promise<void>;
  /** Keep the raw request stream (streaming uploads): no JSON body parser. */
  rawBody?: boolean;
  /** Serve HTTPS with this certificate and key (see `httpTlsOf`); absent: plain HTTP. */
  httpTls?: HttpTls;
}

/** Creates, wires and starts a service: HTTP (health, metrics, API) and, when asked, NATS RPC. */
export async function startService(options: StartServiceOptions): Promise<INestApplication> {
  // Loaded here, not when this lib is imported: a main.ts imports the lib before it starts telemetry,
  // and Nest's instrumentation only patches @nestjs/core if it is loaded after the SDK started.
  const { NestFactory } = await import('@nestjs/core');
  const { Transport } = await import('@nestjs/microservices');
  const app = await NestFactory.create(options.module, {
    logger: new NestLogger(options.logger),
    bodyParser: !options.rawBody,
    ...(options.httpTls ? { httpsOptions: { cert: readFileSync(options.httpTls.certFile), key: readFileSync(options.httpTls.keyFile) } } : {}),
  });
  app.useGlobalFilters(new HttpErrorFilter(options.logger));
  app.enableShutdownHooks();
  let rpcServer: INestMicroservice | undefined;
  if (options.rpc) {
    const ms = app.connectMicroservice<MicroserviceOptions>({
      transport: Transport.NATS,
      options: {
        servers: natsServers(options.rpc.natsUrl),
        queue: options.rpc.queue,
        name: `fleetcast-${options.service}-rpc`,
        maxReconnectAttempts: -1,
        authenticator: natsAuthenticator({ credsFile: options.rpc.credsFile }),
        ...(options.rpc.tlsCaFile ? { tls: { caFile: options.rpc.tlsCaFile } } : {}),
        serializer: new ContractSerializer(),
        deserializer: new ContractDeserializer(),
      },
    }, { deferInitialization: true });
    // Deferred initialisation: the filter and the interceptor must be registered before the handlers are built.
    ms.useGlobalFilters(new RpcErrorFilter(options.logger));
    ms.useGlobalInterceptors(new RpcTraceInterceptor());
    rpcServer = ms;
  }
  await app.init();
  await options.beforeListen?.(app);
  if (rpcServer !== undefined) {
    await app.startAllMicroservices();
    // The handlers' subscriptions are only queued on the connection when `listen` returns. Until the
    // server has them, a request on a served subject reaches only the unserved-subject responder,
    // which stays silent for it: the caller would time out. A flush is a round trip behind them.
    await rpcServer.unwrap<NatsConnection>().flush();
  }
  await app.listen(options.httpPort, options.httpHost);
  const address = app.getHttpServer().address();
  options.logger.info({ port: typeof address === 'object' ? address?.port : address, https: options.httpTls !== undefined }, `${options.service} listening`);
  return app;
}

/** Runs main() and turns a start-up failure into one clear log line and exit code 1. */
export function runMain(logger: Logger, main: () => Promise<unknown>): void {
  main().catch((error: Error) => {
    logger.fatal({ err: error }, `start-up failed: ${error.message}`);
    // Give the log line a moment to flush before exiting.
    setTimeout(() => process.exit(1), 100);
  });
}
