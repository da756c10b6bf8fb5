import { DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { ORIGIN_CONFIG, OriginConfig } from './config/origin.config';
import { ContentModule } from './content/content.module';
import { MetricsModule } from './metrics/metrics.module';
import { UploadsModule } from './uploads/uploads.module';

/**
 * The content origin. Takes its configuration as a value, so tests build it with their own store.
 * The platform module serves /healthz, /readyz (the content module registers the store's check) and
 * /metrics; the service kit's filter turns errors into responses.
 */
@Module({})
export class AppModule {
  static forRoot(config: OriginConfig, logger: Logger, telemetry?: { shutdown(): Promise<void> }): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [PlatformModule.forRoot({ service: 'origin', logger, telemetry }), MetricsModule, ContentModule, UploadsModule],
      providers: [{ provide: ORIGIN_CONFIG, useValue: config }],
      exports: [ORIGIN_CONFIG],
    };
  }
}
