import { runMain } from '@fleetcast/service-kit';
import { createLogger, startTelemetry } from '@fleetcast/telemetry';
import { LicensingConfig, loadLicensingConfig } from './config/licensing.config';

let config: LicensingConfig;
try {
  config = loadLicensingConfig();
} catch (error) {
  // No logger without a valid LOG_LEVEL: the message alone names every bad variable.
  console.error((error as Error).message);
  process.exit(1);
}
const telemetry = startTelemetry('licensing', config.OTEL_EXPORTER_OTLP_ENDPOINT);
const logger = createLogger('licensing', config.LOG_LEVEL);

runMain(logger, async () => {
  // Loaded after telemetry started, so http, pg and Nest are instrumented.
  const { startLicensing } = await import('./licensing.bootstrap');
  return startLicensing(config, logger, telemetry);
});
