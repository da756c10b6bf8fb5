import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { natsLeafConfig, readTrustDir, TRUST_FILES } from '@fleetcast/trust';
import { freePort } from './free-port';
import { findNatsServerBinary, LocalNatsServer, NatsServer } from './nats-server';
import { waitFor } from './wait-for';

/** A branch leaf with its monitoring endpoint, whose `/leafz` lists the links it holds to the core. */
export interface NatsLeaf extends NatsServer {
  readonly monitorUrl: string;
  /** The accounts (public keys) whose link to the core is up right now. */
  linkedAccounts(): Promise<string[]>;
}

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
export async function startNatsLeaf(options: StartNatsLeafOptions): Promise<NatsLeaf> {
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
  const monitorPort = await freePort();
  const server = new LocalNatsServer(
    binary,
    await freePort(),
    root,
    { jetstream: false, startTimeoutMs: options.startTimeoutMs, args: ['-m', String(monitorPort)] },
    { confFile, dir: trustDir },
  );
  const monitorUrl = `http://127.0.0.1:${monitorPort}`;
  const leaf = Object.assign(server, {
    monitorUrl,
    linkedAccounts: async (): Promise<string[]> => {
      const res = await fetch(`${monitorUrl}/leafz`, { signal: AbortSignal.timeout(2_000) });
      if (!res.ok) throw new Error(`the leaf's /leafz answered ${res.status}`);
      const body = (await res.json()) as { leafs?: { account?: string }[] };
      return (body.leafs ?? []).map((l) => l.account ?? '').filter((a) => a !== '');
    },
  });
  try {
    await leaf.start();
    await waitForLeafUplink(leaf, options.core.jetstreamDomain, options.startTimeoutMs ?? 30_000);
    await waitForLeafLinks(leaf, options.startTimeoutMs ?? 30_000);
  } catch (error) {
    const logs = leaf.logs();
    await leaf.stop();
    rmSync(root, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}\nleaf nats-server output:\n${logs}`, { cause: error });
  }
  return leaf;
}

/**
 * Waits until both of the leaf's links to the core are up: the fleet account's (the devices'
 * traffic) and the system account's (account updates: a retirement reaches the leaf only over it).
 * After a WAN cut the two come back independently, each on its own reconnect timer.
 */
export async function waitForLeafLinks(leaf: NatsLeaf, timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => new Set(await leaf.linkedAccounts().catch(() => [])).size >= 2, {
    timeoutMs,
    intervalMs: 200,
    description: `both links of the leaf on port ${leaf.port} (fleet and system accounts) up`,
  });
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
