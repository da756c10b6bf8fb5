import { DynamicModule, MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { PlatformModule } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { AuditInterceptor } from './audit/audit.interceptor';
import { AuditMiddleware } from './audit/audit.middleware';
import { ActivationModule } from './activation/activation.module';
import { AuditModule } from './audit/audit.module';
import { ApiTokenGuard } from './auth/api-token.guard';
import { ConsoleModule } from './console/console.module';
import { JsonBodyMiddleware } from './common/json-body.middleware';
import { RequestLogMiddleware } from './common/request-log.middleware';
import { GATEWAY_CONFIG, GatewayConfig } from './config/gateway.config';
import { DevicesModule } from './devices/devices.module';
import { DocsModule } from './docs/docs.module';
import { EnrollmentModule } from './enrollment/enrollment.module';
import { EventsModule } from './events/events.module';
import { LicenseModule } from './license/license.module';
import { PackagesModule } from './packages/packages.module';
import { PlansModule } from './plans/plans.module';
import { ProfilesModule } from './profiles/profiles.module';
import { ReportsModule } from './reports/reports.module';
import { TasksModule } from './tasks/tasks.module';
import { TopologyBodyMiddleware } from './topology/topology-body.middleware';
import { TopologyModule } from './topology/topology.module';
import { WebhooksModule } from './webhooks/webhooks.module';

@Module({})
class GatewayConfigHolder {}

/** The public API: no database, only validation, authentication and calls to the services. */
@Module({})
export class AppModule implements NestModule {
  static register(config: GatewayConfig, logger: Logger, telemetry?: { shutdown(): Promise<void> }): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({ service: 'gateway', logger, natsUrl: config.natsUrl, natsCredsFile: config.natsCredsFile, natsTlsCaFile: config.natsTlsCaFile, telemetry }),
        { module: GatewayConfigHolder, global: true, providers: [{ provide: GATEWAY_CONFIG, useValue: config }], exports: [GATEWAY_CONFIG] },
        DocsModule,
        PackagesModule,
        ProfilesModule,
        TasksModule,
        EventsModule,
        DevicesModule,
        EnrollmentModule,
        LicenseModule,
        TopologyModule,
        WebhooksModule,
        ActivationModule,
        AuditModule,
        ConsoleModule,
        PlansModule,
        ReportsModule,
      ],
      // Global, so that a new route is protected and audited without anyone remembering to say so.
      providers: [
        { provide: APP_GUARD, useClass: ApiTokenGuard },
        { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    // First: it gives every request its ID and resolves its token, which the others use.
    consumer.apply(AuditMiddleware, RequestLogMiddleware).forRoutes('*');
    // Uploads (whole, or a chunk of a resumable one) keep their raw stream: piped to the origin, never parsed or buffered.
    // A topology upload is JSON or YAML by its Content-Type: read by a middleware of its own.
    consumer
      .apply(JsonBodyMiddleware)
      .exclude(
        { path: 'v1/packages/:id/content', method: RequestMethod.PUT },
        { path: 'v1/uploads/:id', method: RequestMethod.PATCH },
        { path: 'v1/topology', method: RequestMethod.POST },
      )
      .forRoutes('*');
    consumer.apply(TopologyBodyMiddleware).forRoutes({ path: 'v1/topology', method: RequestMethod.POST });
  }
}
