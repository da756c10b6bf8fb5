import 'reflect-metadata';
import { runMain } from '@fleetcast/service-kit';
import { createLogger, startTelemetry } from '@fleetcast/telemetry';
import { loadOriginConfig, OriginConfig } from './config/origin.config';

let config: OriginConfig;
try {
  config = loadOriginConfig(process.env);
} catch (error) {
  // No logger without a valid LOG_LEVEL, and a bad environment is the operator's to fix: the message
  // alone names every bad variable, without a stack trace.
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
}
const telemetry = startTelemetry('origin', config.otlpEndpoint);
const logger = createLogger('origin', config.logLevel);

runMain(logger, async () => {
  // Loaded after telemetry started, so http and Nest are instrumented.
  const { startOriginApp } = await import('./app.bootstrap');
  await startOriginApp(config, logger, telemetry);
});
