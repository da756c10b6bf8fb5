import { migrateCommand } from '@fleetcast/persistence';
import { loadLicensingDatabaseConfig } from './config/licensing.config';
import { licensingDataSourceOptions } from './database/licensing-data-source';

/** `node dist/src/migrate.js up|down`: applies pending migrations or reverts the last one. */
async function main(): Promise<void> {
  await migrateCommand(licensingDataSourceOptions(loadLicensingDatabaseConfig()), process.argv.slice(2));
}

main().catch((error: Error) => {
  console.error(`migrate failed: ${error.message}`);
  process.exitCode = 1;
});
