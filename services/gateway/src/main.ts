import { runMain } from '@fleetcast/service-kit';
import { createLogger, startTelemetry } from '@fleetcast/telemetry';
import { loadGatewayConfig } from './config/gateway.config';

const config = loadGatewayConfig(process.env);
const telemetry = startTelemetry('gateway', config.otlpEndpoint);
const logger = createLogger('gateway', config.logLevel);

runMain(logger, async () => {
  // Loaded after telemetry started, so http and Nest are instrumented.
  const { startGateway } = await import('./app.bootstrap');
  await startGateway(config, logger, telemetry);
});
