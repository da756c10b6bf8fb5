import { DataSource } from 'typeorm';
import { runMigrations, serviceDataSourceOptions } from '@fleetcast/persistence';
import { runMain, startService } from '@fleetcast/service-kit';
import { createLogger, startTelemetry } from '@fleetcast/telemetry';
import { loadTasksConfig } from './config/tasks.config';
import { tasksDataSourceOptions, TASKS_SCHEMA } from './database/tasks-data-source';

const config = loadTasksConfig(process.env);
const telemetry = startTelemetry('tasks', config.otlpEndpoint);
const logger = createLogger('tasks', config.logLevel);

runMain(logger, async () => {
  if (config.migrateOnStart) {
    const ds = new DataSource(serviceDataSourceOptions(tasksDataSourceOptions(config.databaseUrl, 2)));
    await ds.initialize();
    try {
      const applied = await runMigrations(ds, TASKS_SCHEMA);
      if (applied.length) logger.info({ applied }, 'migrations applied');
    } finally {
      await ds.destroy();
    }
  }
  // Loaded after telemetry started, so http, pg and Nest are instrumented.
  const { AppModule } = await import('./app.module');
  await startService({
    service: 'tasks',
    module: AppModule.register(config, logger, telemetry),
    logger,
    httpPort: config.httpPort,
    httpHost: config.httpHost,
    httpTls: config.httpTls,
    rpc: { natsUrl: config.natsUrl, queue: 'tasks', credsFile: config.natsCredsFile, tlsCaFile: config.natsTlsCaFile },
  });
});
