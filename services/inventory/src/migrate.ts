import { migrateCommand } from '@fleetcast/persistence';
import { loadInventoryConfig } from './config/inventory.config';
import { inventoryDataSourceOptions } from './database/inventory-data-source';

/** `node dist/src/migrate.js up|down`: applies pending migrations or reverts the last one. */
async function main(): Promise<void> {
  await migrateCommand(inventoryDataSourceOptions(loadInventoryConfig()), process.argv.slice(2));
}

main().catch((error: Error) => {
  console.error(`migrate failed: ${error.message}`);
  process.exitCode = 1;
});
