import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Authenticator, ConnectionOptions } from 'nats';
import { natsAuthConfig, ServiceRole, TRUST_FILES, writeTrustDir } from '@fleetcast/trust';
import { natsAuthenticator } from '@fleetcast/nats';
import { track } from './cleanup-registry';
import { freePort } from './free-port';
import { findNatsServerBinary, LocalNatsServer, NatsServer, TestTrust } from './nats-server';

export interface StartNatsClusterOptions {
  /** Nodes in the cluster (default 3: the smallest JetStream cluster that survives losing one). */
  size?: number;
  /** How long the cluster may take until every node serves JetStream (a meta leader elected). */
  startTimeoutMs?: number;
  /** The nats-server executable; as `startNatsServer` finds it by default. */
  binary?: string;
}

/** A JetStream cluster of private nats-servers in operator mode, sharing one trust chain. */
export interface NatsCluster {
  /** Every node, in start order; each can be halted, restarted and asked for its logs. */
  readonly nodes: readonly NatsServer[];
  /** The client URLs of all nodes joined by commas, as NATS_URL takes them. */
  readonly url: string;
  readonly urls: readonly string[];
  /** The cluster's JetStream domain: clients behind a leaf node reach its JetStream under it. */
  readonly jetstreamDomain: string;
  /** Where branch leaf nodes connect (`nats-leaf://` URLs, one per node): see `startNatsLeaf`. */
  readonly leafUrls: readonly string[];
  readonly trust: TestTrust;
  /** Connection options of the unrestricted admin user, listing every node. */
  adminConnectOptions(): Pick<ConnectionOptions, 'servers' | 'authenticator'>;
  /** Stops every node and removes the cluster's temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** As infra/nats/*.conf name the core's domain. */
export const CLUSTER_JETSTREAM_DOMAIN = 'core';

/** A cluster start on a loaded machine: routes connect, then the nodes elect a meta leader. */
const DEFAULT_CLUSTER_START_TIMEOUT_MS = 30_000;

/**
 * Starts `size` nats-servers on 127.0.0.1 routed to each other as one JetStream cluster, each
 * with its own store and account resolver, and resolves when every node serves JetStream.
 */
export async function startNatsCluster(options: StartNatsClusterOptions = {}): Promise<NatsCluster> {
  const size = options.size ?? 3;
  if (!Number.isInteger(size) || size < 1) throw new Error(`a cluster needs at least one node, not ${size}`);
  const binary = findNatsServerBinary(options.binary);
  const root = mkdtempSync(join(tmpdir(), 'fleetcast-nats-cluster-'));
  const nodes: LocalNatsServer[] = [];
  const leafPorts: number[] = [];
  try {
    const trustDir = join(root, 'trust');
    const fleetTrust = await writeTrustDir(trustDir, { resolverDir: join(root, 'resolver') });
    const clientPorts: number[] = [];
    const routePorts: number[] = [];
    for (let i = 0; i < size; i++) {
      clientPorts.push(await freePort());
      routePorts.push(await freePort());
      leafPorts.push(await freePort());
    }
    const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`);
    for (let i = 0; i < size; i++) {
      const nodeRoot = join(root, `node-${i + 1}`);
      mkdirSync(nodeRoot, { recursive: true });
      const confFile = join(nodeRoot, 'node.conf');
      writeFileSync(
        confFile,
        [
          natsAuthConfig(fleetTrust, join(nodeRoot, 'resolver')),
          'cluster {',
          '  name: fleetcast-test',
          `  listen: 127.0.0.1:${routePorts[i]}`,
          `  routes: [${routes.filter((_, j) => j !== i).join(', ')}]`,
          '}',
          // no_advertise: a leaf keeps to the URLs it was given (a test's relays, the branch's WAN
          // link) instead of learning each node's own leaf port and going around a cut link.
          `leafnodes { listen: 127.0.0.1:${leafPorts[i]}, no_advertise: true }`,
          `jetstream { domain: ${CLUSTER_JETSTREAM_DOMAIN} }`,
          '',
        ].join('\n'),
      );
      nodes.push(
        new LocalNatsServer(binary, clientPorts[i]!, nodeRoot, { startTimeoutMs: options.startTimeoutMs ?? DEFAULT_CLUSTER_START_TIMEOUT_MS }, { confFile, dir: trustDir }),
      );
    }
    // Together: no node answers for JetStream until a majority has elected a meta leader.
    await Promise.all(nodes.map((node) => node.start()));
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  const urls = nodes.map((node) => node.url);
  const leafUrls = leafPorts.map((p) => `nats-leaf://127.0.0.1:${p}`);
  const credsFile = (role: ServiceRole | 'admin' | 'system'): string =>
    join(root, 'trust', role === 'admin' ? TRUST_FILES.adminCreds : role === 'system' ? TRUST_FILES.systemCreds : TRUST_FILES.serviceCreds(role));
  const trust: TestTrust = {
    dir: join(root, 'trust'),
    credsFile,
    connectOptions(role = 'admin') {
      return { servers: [...urls], authenticator: natsAuthenticator({ credsFile: credsFile(role) }) as Authenticator };
    },
  };
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(root, { recursive: true, force: true });
    untrack();
  };
  const untrack = track({ stop, killNow: () => rmSync(root, { recursive: true, force: true }) });
  return {
    nodes,
    urls,
    leafUrls,
    jetstreamDomain: CLUSTER_JETSTREAM_DOMAIN,
    url: urls.join(','),
    trust,
    adminConnectOptions: () => trust.connectOptions('admin'),
    stop,
  };
}
