import { runMain } from '@fleetcast/service-kit';
import { createLogger, startTelemetry } from '@fleetcast/telemetry';
import { InventoryConfig, loadInventoryConfig } from './config/inventory.config';

let config: InventoryConfig;
try {
  config = loadInventoryConfig();
} catch (error) {
  // No logger without a valid LOG_LEVEL: the message alone names every bad variable.
  console.error((error as Error).message);
  process.exit(1);
}
const telemetry = startTelemetry('inventory', config.OTEL_EXPORTER_OTLP_ENDPOINT);
const logger = createLogger('inventory', config.LOG_LEVEL);

runMain(logger, async () => {
  // Loaded after telemetry started, so http, pg and Nest are instrumented.
  const { startInventory } = await import('./inventory.bootstrap');
  return startInventory(config, logger, telemetry);
});
