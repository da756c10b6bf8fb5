import { migrateCommand } from '@fleetcast/persistence';
import { loadTopologyDatabaseConfig } from './config/topology.config';
import { topologyDataSourceOptions } from './database/topology-data-source';

/** `node dist/src/migrate.js up|down`: applies pending migrations or reverts the last one. */
async function main(): Promise<void> {
  await migrateCommand(topologyDataSourceOptions(loadTopologyDatabaseConfig()), process.argv.slice(2));
}

main().catch((error: Error) => {
  console.error(`migrate failed: ${error.message}`);
  process.exitCode = 1;
});
