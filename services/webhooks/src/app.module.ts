import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { serviceDataSourceOptions } from '@fleetcast/persistence';
import { PlatformModule } from '@fleetcast/service-kit';
import { createLogger, Logger } from '@fleetcast/telemetry';
import { WebhooksConfigModule } from './config/webhooks-config.module';
import { WebhooksConfig } from './config/webhooks.config';
import { webhooksDataSourceOptions } from './database/webhooks-data-source';
import { DeliveriesModule } from './deliveries/deliveries.module';
import { SubscriptionsModule } from './subscriptions/subscriptions.module';

export interface AppModuleOptions {
  logger?: Logger;
  /** What `startTelemetry` returned: flushed last, so the spans of the shutdown itself are exported. */
  telemetry?: { shutdown(): Promise<void> };
}

@Module({})
export class AppModule {
  static register(config: WebhooksConfig, options: AppModuleOptions = {}): DynamicModule {
    const logger = options.logger ?? createLogger('webhooks', config.LOG_LEVEL);
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({ service: 'webhooks', logger, natsUrl: config.NATS_URL, natsCredsFile: config.NATS_CREDS_FILE, natsTlsCaFile: config.NATS_TLS_CA_FILE, rpcDomain: 'webhooks', telemetry: options.telemetry }),
        TypeOrmModule.forRoot(serviceDataSourceOptions(webhooksDataSourceOptions(config))),
        WebhooksConfigModule.register(config),
        SubscriptionsModule,
        DeliveriesModule,
      ],
    };
  }
}
