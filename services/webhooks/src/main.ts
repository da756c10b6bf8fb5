import { runMain } from '@fleetcast/service-kit';
import { createLogger, startTelemetry } from '@fleetcast/telemetry';
import { loadWebhooksConfig, WebhooksConfig } from './config/webhooks.config';

let config: WebhooksConfig;
try {
  config = loadWebhooksConfig();
} catch (error) {
  // No logger without a valid LOG_LEVEL: the message alone names every bad variable.
  console.error((error as Error).message);
  process.exit(1);
}
const telemetry = startTelemetry('webhooks', config.OTEL_EXPORTER_OTLP_ENDPOINT);
const logger = createLogger('webhooks', config.LOG_LEVEL);

runMain(logger, async () => {
  // Loaded after telemetry started, so http, pg and Nest are instrumented.
  const { startWebhooks } = await import('./webhooks.bootstrap');
  return startWebhooks(config, logger, telemetry);
});
