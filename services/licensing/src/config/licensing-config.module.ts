import { DynamicModule, Global, Module } from '@nestjs/common';
import { LICENSING_CONFIG, LicensingConfig } from './licensing.config';

/** The validated configuration for every module of the service (the seats module, imported by others, included). */
@Global()
@Module({})
export class LicensingConfigModule {
  static register(config: LicensingConfig): DynamicModule {
    return { module: LicensingConfigModule, providers: [{ provide: LICENSING_CONFIG, useValue: config }], exports: [LICENSING_CONFIG] };
  }
}
