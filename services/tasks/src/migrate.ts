import { migrateCommand } from '@fleetcast/persistence';
import { loadTasksConfig } from './config/tasks.config';
import { tasksDataSourceOptions } from './database/tasks-data-source';

/** `node dist/src/migrate.js up|down`: applies or reverts the tasks schema's migrations. */
const config = loadTasksConfig(process.env);
migrateCommand(tasksDataSourceOptions(config.databaseUrl), process.argv.slice(2)).catch((error: Error) => {
  console.error(`migration failed: ${error.message}`);
  process.exit(1);
});
