import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ORIGIN_CONFIG, OriginConfig } from './config/origin.config';
import { ContentModule } from './content/content.module';
import { HealthModule } from './health/health.module';
import { FleetcastErrorFilter } from './http/fleetcast-error.filter';
import { MetricsModule } from './metrics/metrics.module';

/** The content origin. Takes its configuration as a value, so tests build it with their own store. */
@Module({})
export class AppModule {
  static forRoot(config: OriginConfig): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [MetricsModule, ContentModule, HealthModule],
      providers: [
        { provide: ORIGIN_CONFIG, useValue: config },
        { provide: APP_FILTER, useClass: FleetcastErrorFilter },
      ],
      exports: [ORIGIN_CONFIG],
    };
  }
}
