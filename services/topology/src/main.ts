import { runMain } from '@fleetcast/service-kit';
import { createLogger, startTelemetry } from '@fleetcast/telemetry';
import { loadTopologyConfig, TopologyConfig } from './config/topology.config';

let config: TopologyConfig;
try {
  config = loadTopologyConfig();
} catch (error) {
  // No logger without a valid LOG_LEVEL: the message alone names every bad variable.
  console.error((error as Error).message);
  process.exit(1);
}
const telemetry = startTelemetry('topology', config.OTEL_EXPORTER_OTLP_ENDPOINT);
const logger = createLogger('topology', config.LOG_LEVEL);

runMain(logger, async () => {
  // Loaded after telemetry started, so http, pg and Nest are instrumented.
  const { startTopology } = await import('./topology.bootstrap');
  return startTopology(config, logger, telemetry);
});
