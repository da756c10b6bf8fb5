import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { natsLeafConfig, readTrustDir, TRUST_FILES } from '@fleetcast/trust';
import { freePort } from './free-port';
import { findNatsServerBinary, LocalNatsServer, NatsServer } from './nats-server';
import { waitFor } from './wait-for';

export interface StartNatsLeafOptions {
  /** The core the leaf links to: its leaf-node URLs and its trust directory (the same trust chain). */
  core: { leafUrls: readonly string[]; trustDir: string; jetstreamDomain: string };
  /** How long until the leaf serves clients and its link to the core carries JetStream requests. */
  startTimeoutMs?: number;
  binary?: string;
}

/**
 * Starts a branch leaf node (docs/scaling.md): a private nats-server on 127.0.0.1 in operator mode
 * with the core's trust chain and no JetStream of its own, linked to the core with the trust
 * directory's branch-leaf credentials. Devices connect to it with their own credentials. Resolves
 * once a device-like client's JetStream request crosses the link.
 */
export async function startNatsLeaf(options: StartNatsLeafOptions): Promise<NatsServer> {
  const binary = findNatsServerBinary(options.binary);
  const root = mkdtempSync(join(tmpdir(), 'fleetcast-nats-leaf-'));
  const trustDir = options.core.trustDir;
  const confFile = join(root, 'leaf.conf');
  writeFileSync(
    confFile,
    natsLeafConfig(await readTrustDir(trustDir), {
      resolverDir: join(root, 'resolver'),
      coreLeafUrls: [...options.core.leafUrls],
      fleetCredsFile: join(trustDir, TRUST_FILES.branchLeafCreds),
      systemCredsFile: join(trustDir, TRUST_FILES.branchLeafSystemCreds),
    }),
  );
  const leaf = new LocalNatsServer(binary, await freePort(), root, { jetstream: false, startTimeoutMs: options.startTimeoutMs }, { confFile, dir: trustDir });
  try {
    await leaf.start();
    await waitForLeafUplink(leaf, options.core.jetstreamDomain, options.startTimeoutMs ?? 30_000);
  } catch (error) {
    const logs = leaf.logs();
    await leaf.stop();
    rmSync(root, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}\nleaf nats-server output:\n${logs}`, { cause: error });
  }
  return leaf;
}

/**
 * Waits until a JetStream request from a client of the leaf is answered by the core. The client
 * takes replies under a device's inbox prefix: the leaf's link carries no others.
 */
export async function waitForLeafUplink(leaf: NatsServer, jetstreamDomain: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      const nc = await connect({ ...leaf.adminConnectOptions(), reconnect: false, timeout: 1_000, inboxPrefix: '_INBOX.device.leaf-probe' }).catch(() => undefined);
      if (!nc) return false;
      try {
        await nc.jetstreamManager({ timeout: 1_000, domain: jetstreamDomain });
        return true;
      } catch {
        return false;
      } finally {
        await nc.close();
      }
    },
    { timeoutMs, intervalMs: 200, description: `the leaf on port ${leaf.port} linked to the core` },
  );
}
