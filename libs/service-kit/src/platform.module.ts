import { Controller, DynamicModule, Get, Global, HttpCode, Inject, Injectable, Module, OnApplicationShutdown, Res } from '@nestjs/common';
import type { Response } from 'express';
import { connectNats, natsAuthenticator, NatsConnection, RpcClient } from '@fleetcast/nats';
import { createMetricsRegistry, Logger, Registry } from '@fleetcast/telemetry';
import { LOGGER, METRICS, NATS_CONNECTION, PLATFORM_OPTIONS } from './tokens';
import { UnservedSubjectResponder } from './unserved-subject.responder';

export interface PlatformOptions {
  service: string;
  logger: Logger;
  /** Connect a nats.js client (JetStream, RPC client); absent for services that do not use NATS. */
  natsUrl?: string;
  /** The service's NATS user credentials (creds file). */
  natsCredsFile?: string;
  /** CA certificate of the NATS server's TLS certificate. */
  natsTlsCaFile?: string;
  /** The subject domain whose requests this service serves ('tasks'): unserved ones get an error reply. */
  rpcDomain?: string;
  /** What `startTelemetry` returned: flushed last on shutdown, so the shutdown's own spans are exported. */
  telemetry?: { shutdown(): Promise<void> };
}

/** Flushes traces when the app closes (Nest's shutdown hooks run on SIGTERM; `beforeExit` does not). */
@Injectable()
export class TelemetryShutdown implements OnApplicationShutdown {
  constructor(@Inject(PLATFORM_OPTIONS) private readonly options: PlatformOptions) {}

  async onApplicationShutdown(): Promise<void> {
    await this.options.telemetry?.shutdown();
  }
}

type Check = () => Promise<void>;

/** Named readiness checks; /readyz answers 200 only when all pass. Modules register their own. */
@Injectable()
export class ReadinessService {
  private readonly checks = new Map<string, Check>();

  register(name: string, check: Check): void {
    this.checks.set(name, check);
  }

  async run(): Promise<{ ready: boolean; checks: Record<string, string> }> {
    const results: Record<string, string> = {};
    let ready = true;
    for (const [name, check] of this.checks) {
      try {
        // A check that hangs counts as failed: readiness must answer fast.
        await Promise.race([check(), new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 2000))]);
        results[name] = 'ok';
      } catch (error) {
        ready = false;
        results[name] = (error as Error).message;
      }
    }
    return { ready, checks: results };
  }
}

@Controller()
export class HealthController {
  private readonly startedAt = Date.now();
  constructor(
    @Inject(PLATFORM_OPTIONS) private readonly options: PlatformOptions,
    private readonly readiness: ReadinessService,
  ) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  health() {
    return { status: 'ok', service: this.options.service, uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000) };
  }

  /** Readiness: dependencies (database, NATS) answer. */
  @Get('readyz')
  @HttpCode(200)
  async ready(@Res({ passthrough: true }) res: Response) {
    const { ready, checks } = await this.readiness.run();
    if (!ready) res.status(503);
    return { status: ready ? 'ready' : 'not-ready', service: this.options.service, checks };
  }
}

@Controller()
export class MetricsController {
  constructor(@Inject(METRICS) private readonly registry: Registry) {}

  @Get('metrics')
  async metrics(@Res() res: Response) {
    res.setHeader('Content-Type', this.registry.contentType);
    res.send(await this.registry.metrics());
  }
}

/** Tracks whether the nats.js connection is up, for readiness. */
@Injectable()
export class NatsLifecycle implements OnApplicationShutdown {
  connected = true;
  constructor(@Inject(NATS_CONNECTION) private readonly nc: NatsConnection, readiness: ReadinessService) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.connected = false;
        if (s.type === 'reconnect') this.connected = true;
      }
    })();
    readiness.register('nats', async () => {
      if (this.nc.isClosed() || !this.connected) throw new Error('not connected');
    });
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.drain().catch(() => undefined);
  }
}

/** Logger, metrics, health, readiness and (optionally) the shared NATS connection of a service. */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(options: PlatformOptions): DynamicModule {
    const natsProviders = options.natsUrl
      ? [
          {
            provide: NATS_CONNECTION,
            useFactory: () => connectNats({ servers: options.natsUrl!, name: `fleetcast-${options.service}`, logger: options.logger, authenticator: natsAuthenticator({ credsFile: options.natsCredsFile }), tlsCaFile: options.natsTlsCaFile }),
          },
          { provide: RpcClient, useFactory: (nc: NatsConnection) => new RpcClient(nc), inject: [NATS_CONNECTION] },
          NatsLifecycle,
          UnservedSubjectResponder,
        ]
      : [];
    return {
      module: PlatformModule,
      global: true,
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: PLATFORM_OPTIONS, useValue: options },
        { provide: LOGGER, useValue: options.logger },
        { provide: METRICS, useValue: createMetricsRegistry(options.service) },
        ReadinessService,
        TelemetryShutdown,
        ...natsProviders,
      ],
      exports: [PLATFORM_OPTIONS, LOGGER, METRICS, ReadinessService, ...(options.natsUrl ? [NATS_CONNECTION, RpcClient] : [])],
    };
  }
}
