import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { serviceDataSourceOptions } from '@fleetcast/persistence';
import { PlatformModule } from '@fleetcast/service-kit';
import { createLogger, Logger } from '@fleetcast/telemetry';
import { LicensingConfigModule } from './config/licensing-config.module';
import { LicensingConfig } from './config/licensing.config';
import { licensingDataSourceOptions } from './database/licensing-data-source';
import { ActivationModule } from './activation/activation.module';
import { EnrollmentModule } from './enrollment/enrollment.module';
import { LicenseModule } from './license/license.module';
import { OutboxModule } from './outbox/outbox.module';
import { SeatsModule } from './seats/seats.module';

export interface AppModuleOptions {
  logger?: Logger;
  /** What `startTelemetry` returned: flushed last, so the spans of the shutdown itself are exported. */
  telemetry?: { shutdown(): Promise<void> };
}

@Module({})
export class AppModule {
  static register(config: LicensingConfig, options: AppModuleOptions = {}): DynamicModule {
    const logger = options.logger ?? createLogger('licensing', config.LOG_LEVEL);
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({ service: 'licensing', logger, natsUrl: config.NATS_URL, natsCredsFile: config.NATS_CREDS_FILE, natsTlsCaFile: config.NATS_TLS_CA_FILE, rpcDomain: 'licensing', telemetry: options.telemetry }),
        TypeOrmModule.forRoot(serviceDataSourceOptions(licensingDataSourceOptions(config))),
        LicensingConfigModule.register(config),
        OutboxModule,
        SeatsModule,
        LicenseModule,
        EnrollmentModule,
        ActivationModule,
      ],
    };
  }
}
