import { DynamicModule, Global, Module } from '@nestjs/common';
import { TOPOLOGY_CONFIG, TopologyConfig } from './topology.config';

/** The validated configuration for every module of the service. */
@Global()
@Module({})
export class TopologyConfigModule {
  static register(config: TopologyConfig): DynamicModule {
    return { module: TopologyConfigModule, providers: [{ provide: TOPOLOGY_CONFIG, useValue: config }], exports: [TOPOLOGY_CONFIG] };
  }
}
