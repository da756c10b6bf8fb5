import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { serviceDataSourceOptions } from '@fleetcast/persistence';
import { PlatformModule } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { TASKS_CONFIG, TasksConfig } from './config/tasks.config';
import { tasksDataSourceOptions } from './database/tasks-data-source';
import { ReportsModule } from './reports/reports.module';
import { SwarmModule } from './swarm/swarm.module';
import { TasksModule } from './tasks/tasks.module';

@Module({})
export class AppModule {
  static register(config: TasksConfig, logger: Logger, telemetry?: { shutdown(): Promise<void> }): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({ service: 'tasks', logger, natsUrl: config.natsUrl, natsCredsFile: config.natsCredsFile, natsTlsCaFile: config.natsTlsCaFile, rpcDomain: 'tasks', telemetry }),
        TypeOrmModule.forRoot(serviceDataSourceOptions(tasksDataSourceOptions(config.databaseUrl, config.dbPoolSize))),
        { module: ConfigHolder, global: true, providers: [{ provide: TASKS_CONFIG, useValue: config }], exports: [TASKS_CONFIG] },
        TasksModule,
        ReportsModule,
        SwarmModule,
      ],
    };
  }
}

@Module({})
class ConfigHolder {}
