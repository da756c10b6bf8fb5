import { DynamicModule, Global, Module } from '@nestjs/common';
import { WEBHOOKS_CONFIG, WebhooksConfig } from './webhooks.config';

/** The validated configuration for every module of the service. */
@Global()
@Module({})
export class WebhooksConfigModule {
  static register(config: WebhooksConfig): DynamicModule {
    return { module: WebhooksConfigModule, providers: [{ provide: WEBHOOKS_CONFIG, useValue: config }], exports: [WEBHOOKS_CONFIG] };
  }
}
