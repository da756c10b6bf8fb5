import { migrateCommand } from '@fleetcast/persistence';
import { loadWebhooksDatabaseConfig } from './config/webhooks.config';
import { webhooksDataSourceOptions } from './database/webhooks-data-source';

/** `node dist/src/migrate.js up|down`: applies pending migrations or reverts the last one. */
async function main(): Promise<void> {
  await migrateCommand(webhooksDataSourceOptions(loadWebhooksDatabaseConfig()), process.argv.slice(2));
}

main().catch((error: Error) => {
  console.error(`migrate failed: ${error.message}`);
  process.exitCode = 1;
});
