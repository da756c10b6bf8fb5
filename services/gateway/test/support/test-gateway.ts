import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import type { NatsServer } from '@fleetcast/testing';
import { createLogger } from '@fleetcast/telemetry';
import { startGateway } from '../../src/app.bootstrap';
import { parseApiTokens } from '../../src/auth/api-tokens';
import type { GatewayConfig } from '../../src/config/gateway.config';

/**
 * Starts the gateway on a free port of 127.0.0.1 against a test's NATS server, as its own NATS user,
 * with the given `API_TOKENS` entries; anything else the test needs overrides the defaults.
 */
export async function startTestGateway(
  nats: NatsServer,
  options: { apiTokens: string; logName?: string } & Partial<Omit<GatewayConfig, 'apiTokens'>>,
): Promise<{ app: INestApplication; baseUrl: string }> {
  const { apiTokens, logName, ...overrides } = options;
  const config: GatewayConfig = {
    natsUrl: nats.url,
    natsCredsFile: nats.trust!.credsFile('gateway'),
    httpHost: '127.0.0.1',
    httpPort: 0,
    logLevel: 'silent',
    // Nothing listens there: a test that reaches the origin says so by failing.
    originUrl: 'http://127.0.0.1:9',
    apiTokens: parseApiTokens(apiTokens).tokens,
    authDisabled: false,
    maxUploadBytes: 1024,
    ...overrides,
  };
  const app = await startGateway(config, createLogger(logName ?? 'gateway-int-test', 'silent'));
  return { app, baseUrl: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}` };
}
