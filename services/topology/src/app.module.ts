import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { serviceDataSourceOptions } from '@fleetcast/persistence';
import { PlatformModule } from '@fleetcast/service-kit';
import { createLogger, Logger } from '@fleetcast/telemetry';
import { TopologyConfigModule } from './config/topology-config.module';
import { TopologyConfig } from './config/topology.config';
import { topologyDataSourceOptions } from './database/topology-data-source';
import { OutboxModule } from './outbox/outbox.module';
import { PlacementModule } from './placement/placement.module';
import { TopologyModule } from './topology/topology.module';

export interface AppModuleOptions {
  logger?: Logger;
  /** What `startTelemetry` returned: flushed last, so the spans of the shutdown itself are exported. */
  telemetry?: { shutdown(): Promise<void> };
}

@Module({})
export class AppModule {
  static register(config: TopologyConfig, options: AppModuleOptions = {}): DynamicModule {
    const logger = options.logger ?? createLogger('topology', config.LOG_LEVEL);
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({ service: 'topology', logger, natsUrl: config.NATS_URL, natsCredsFile: config.NATS_CREDS_FILE, natsTlsCaFile: config.NATS_TLS_CA_FILE, rpcDomain: 'topology', telemetry: options.telemetry }),
        TypeOrmModule.forRoot(serviceDataSourceOptions(topologyDataSourceOptions(config))),
        TopologyConfigModule.register(config),
        OutboxModule,
        PlacementModule,
        TopologyModule,
      ],
    };
  }
}
