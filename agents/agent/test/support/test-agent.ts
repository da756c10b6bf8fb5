import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { publicKeyDerOf } from '@fleetcast/content';
import { createLogger } from '@fleetcast/telemetry';
import { NatsServer, provisionDeviceCreds } from '@fleetcast/testing';
import { AgentConfig, AgentDaemon } from '../../src/daemon';

/**
 * The real agent daemon for a test: device `deviceId` with its own NATS credentials on the test's
 * server (none on an open one), state and cache under `work`, the control-plane key pinned, scans
 * hourly, its status endpoint on a free port; `overrides` change any of it. Started when it resolves.
 */
export async function startTestAgent(
  nats: NatsServer,
  options: { deviceId: string; work: string; controlPlaneKey: KeyObject; logLevel?: string } & Partial<Omit<AgentConfig, 'controlPlaneKey'>>,
): Promise<AgentDaemon> {
  const { deviceId, work, controlPlaneKey, logLevel, ...overrides } = options;
  const daemon = new AgentDaemon({
    natsUrl: nats.url,
    natsCredsFile: nats.trust ? await provisionDeviceCreds(nats.trust.dir, deviceId, join(work, 'creds')) : undefined,
    deviceId,
    stateDir: join(work, 'state'),
    cacheDir: join(work, 'cache'),
    includeLoopback: true,
    scanIntervalSeconds: 3600,
    progressIntervalMs: 200,
    controlPlaneKey: Buffer.from(publicKeyDerOf(controlPlaneKey)).toString('base64'),
    statusPort: 0,
    logger: createLogger('agent', logLevel ?? 'warn'),
    ...overrides,
  });
  await daemon.start();
  return daemon;
}
