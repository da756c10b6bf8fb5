import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { serviceDataSourceOptions } from '@fleetcast/persistence';
import { PlatformModule } from '@fleetcast/service-kit';
import { createLogger, Logger } from '@fleetcast/telemetry';
import { InventoryConfig } from './config/inventory.config';
import { inventoryDataSourceOptions } from './database/inventory-data-source';
import { DevicesModule } from './devices/devices.module';

export interface AppModuleOptions {
  logger?: Logger;
  /** What `startTelemetry` returned: flushed last, so the spans of the shutdown itself are exported. */
  telemetry?: { shutdown(): Promise<void> };
}

@Module({})
export class AppModule {
  static register(config: InventoryConfig, options: AppModuleOptions = {}): DynamicModule {
    const logger = options.logger ?? createLogger('inventory', config.LOG_LEVEL);
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({ service: 'inventory', logger, natsUrl: config.NATS_URL, natsCredsFile: config.NATS_CREDS_FILE, natsTlsCaFile: config.NATS_TLS_CA_FILE, rpcDomain: 'inventory', telemetry: options.telemetry }),
        TypeOrmModule.forRoot(serviceDataSourceOptions(inventoryDataSourceOptions(config))),
        DevicesModule.register(config),
      ],
    };
  }
}
