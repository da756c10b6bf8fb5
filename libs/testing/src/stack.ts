import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'nats';
import { TasksRpc } from '@fleetcast/contracts';
import { natsAuthenticator, natsServers, RpcClient } from '@fleetcast/nats';
import { createDeviceKey, formatCreds, issueDeviceUserJwt, readTrustDir, TRUST_FILES, userIssuerOf } from '@fleetcast/trust';
import { freePort } from './free-port';
import { NodeProcess, spawnNodeProcess } from './node-process';
import { waitFor } from './wait-for';

/** The repository root, from this file's compiled place (libs/testing/dist). */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

export type ServiceName = 'inventory' | 'tasks' | 'origin' | 'gateway' | 'licensing' | 'topology' | 'webhooks';

export interface ControlPlaneOptions {
  natsUrl: string;
  /**
   * The NATS server's trust directory (`NatsServer.trust.dir`): each service connects with its own
   * creds file from it. Absent: no credentials (an open server).
   */
  trustDir?: string;
  databaseUrl: string;
  /** Holds the origin's store and the services' log files. */
  workDir: string;
  apiToken: string;
  logLevel?: string;
  /** Extra environment for every service (e.g. a tracing endpoint); `env` overrides it per service. */
  commonEnv?: Record<string, string>;
  /** Extra environment for one service (e.g. a short resend interval for tasks). */
  env?: Partial<Record<ServiceName, Record<string, string>>>;
  /**
   * The address a service listens on (its `HTTP_HOST`; default 127.0.0.1); the URLs the other
   * services, the agents and the caller use follow it. In a network lab the origin listens on the
   * host's lab address, so that agents download across the shaped WAN.
   */
  hosts?: Partial<Record<ServiceName, string>>;
  /** Seats of the trial license the stack installs (issued with the licensing service's own command). */
  licenseSeats?: number;
  /**
   * How `agentArgs` gives agents their credentials: `provisioned` (default) issues a creds file from
   * the trust directory and pins the signing key for the agent; `enrollment` hands the agent an
   * enrollment token and the gateway's URL, and the agent enrolls itself on its first start (as a
   * real device does: a seat, its own key, the pinned keys).
   */
  agentCredentials?: 'provisioned' | 'enrollment';
}

export interface ControlPlane {
  gatewayUrl: string;
  originUrl: string;
  apiToken: string;
  processes: Record<ServiceName, NodeProcess>;
  /**
   * The agent options that join a device to this control plane: its NATS credentials (issued from
   * the trust directory; none on an open server) and the control plane's signing key to pin.
   */
  agentArgs(deviceId: string, dir: string): Promise<string[]>;
  /** Starts a service again with the same port and environment (after `kill` or `stop`). */
  start(name: ServiceName): Promise<NodeProcess>;
  stop(): Promise<void>;
}

const ENTRY: Record<ServiceName, string> = {
  inventory: 'services/inventory/dist/src/main.js',
  tasks: 'services/tasks/dist/src/main.js',
  origin: 'services/origin/dist/src/main.js',
  gateway: 'services/gateway/dist/src/main.js',
  licensing: 'services/licensing/dist/src/main.js',
  topology: 'services/topology/dist/src/main.js',
  webhooks: 'services/webhooks/dist/src/main.js',
};

const ISSUE_LICENSE = 'services/licensing/dist/src/issue-license.js';

/**
 * A trial license for a test stack, issued with the command the licensing service ships: a key
 * pair of its own (the private half in `dir`) and a license key for `seats` seats and 365 days
 * (past the default 30-day expiry notice, so a stack's license reads `valid`).
 */
export function issueTrialLicense(dir: string, seats: number): { publicKey: string; licenseKey: string } {
  const cli = join(REPO_ROOT, ISSUE_LICENSE);
  const keygen = execFileSync(process.execPath, [cli, 'keygen'], { encoding: 'utf8' });
  const publicKey = /^LICENSE_PUBLIC_KEY=(\S+)$/m.exec(keygen)?.[1];
  if (!publicKey) throw new Error(`issue-license keygen printed no LICENSE_PUBLIC_KEY:\n${keygen}`);
  const keyFile = join(dir, 'license-issuer.txt');
  writeFileSync(keyFile, keygen, { mode: 0o600 });
  const licenseKey = execFileSync(process.execPath, [cli, 'issue', '--private-key', keyFile, '--customer', 'Fleetcast test stack', '--seats', String(seats), '--days', '365'], { encoding: 'utf8' }).trim();
  return { publicKey, licenseKey };
}

/**
 * Starts every control-plane service as its own process (as in production, one process each) and
 * waits until each answers /readyz. Used by the end-to-end tests, the demo and the benchmarks.
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  await mkdir(options.workDir, { recursive: true });
  const hostOf = (name: ServiceName): string => options.hosts?.[name] ?? '127.0.0.1';
  const license = issueTrialLicense(options.workDir, options.licenseSeats ?? 1000);
  // The origin serves only devices holding a token the tasks service issued: one secret per stack.
  const downloadTokenSecret = randomBytes(32).toString('base64');
  // Confidential packages' keys are stored wrapped under this one.
  const contentKeySecret = randomBytes(32).toString('base64');
  const ports: Record<ServiceName, number> = {
    licensing: await freePort(hostOf('licensing')),
    inventory: await freePort(hostOf('inventory')),
    tasks: await freePort(hostOf('tasks')),
    origin: await freePort(hostOf('origin')),
    gateway: await freePort(hostOf('gateway')),
    topology: await freePort(hostOf('topology')),
    webhooks: await freePort(hostOf('webhooks')),
  };
  const urlOf = (name: ServiceName): string => `http://${hostOf(name)}:${ports[name]}`;
  const originUrl = urlOf('origin');
  const common = { NATS_URL: options.natsUrl, DATABASE_URL: options.databaseUrl, LOG_LEVEL: options.logLevel ?? 'info' };
  const credsOf = (name: ServiceName): Record<string, string> =>
    options.trustDir ? { NATS_CREDS_FILE: join(options.trustDir, TRUST_FILES.serviceCreds(name)) } : {};
  const envOf = (name: ServiceName): Record<string, string> => ({
    ...common,
    HTTP_HOST: hostOf(name),
    ...credsOf(name),
    ...(options.commonEnv ?? {}),
    HTTP_PORT: String(ports[name]),
    ...(name === 'tasks'
      ? { ORIGIN_PUBLIC_URL: originUrl, ORIGIN_URL: originUrl, DOWNLOAD_TOKEN_SECRET: downloadTokenSecret, ORIGIN_API_TOKEN: options.apiToken, CONTENT_KEY_SECRET: contentKeySecret }
      : {}),
    ...(name === 'origin' ? { ORIGIN_STORE_DIR: join(options.workDir, 'origin-store'), API_TOKENS: options.apiToken, DOWNLOAD_TOKEN_SECRET: downloadTokenSecret } : {}),
    ...(name === 'gateway' ? { ORIGIN_URL: originUrl, API_TOKENS: options.apiToken } : {}),
    ...(name === 'licensing'
      ? { LICENSE_PUBLIC_KEY: license.publicKey, LICENSE_KEY: license.licenseKey, ...(options.trustDir ? { TRUST_DIR: options.trustDir } : {}) }
      : {}),
    // A test stack's receivers listen on loopback: the webhooks service must be allowed to reach them.
    ...(name === 'webhooks' ? { WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8,::1/128' } : {}),
    ...(options.env?.[name] ?? {}),
  });
  const processes = {} as Record<ServiceName, NodeProcess>;
  const start = async (name: ServiceName): Promise<NodeProcess> => {
    const proc = await spawnNodeProcess(join(REPO_ROOT, ENTRY[name]), { name, env: envOf(name), logFile: join(options.workDir, `${name}.log`) });
    processes[name] = proc;
    let lastAnswer = 'no answer yet';
    try {
      await waitFor(
        () =>
          fetch(`${urlOf(name)}/readyz`).then(
            async (r) => {
              lastAnswer = `${r.status} ${(await r.text()).slice(0, 300)}`;
              return r.ok;
            },
            (error: Error) => {
              lastAnswer = error.message;
              return false;
            },
          ),
        { timeoutMs: 60_000, intervalMs: 100, description: `${name} ready` },
      );
    } catch (error) {
      // Said when it happens, not when the wait began: the process's state and output by then.
      throw new Error(`${name} not ready in 60 s (last /readyz: ${lastAnswer}); ${proc.describe()}`, { cause: error });
    }
    return proc;
  };
  // Tasks and inventory first: they create the streams and run their migrations.
  await Promise.all([start('inventory'), start('tasks')]);
  await Promise.all([start('origin'), start('gateway'), start('licensing'), start('topology')]);
  // Last, alone: it creates a JetStream consumer per event type, and the streams exist by now.
  await start('webhooks');
  let signingKey: Promise<string> | undefined;
  let enrollmentToken: Promise<string> | undefined;
  const agentArgs = async (deviceId: string, dir: string): Promise<string[]> => {
    if (options.agentCredentials === 'enrollment') {
      enrollmentToken ??= new ApiClient(urlOf('gateway'), options.apiToken)
        .ok<{ token: string }>('POST', '/v1/enrollment-tokens', { name: 'agents of this stack', maxUses: 100_000, expiresInSeconds: 7 * 24 * 3600 })
        .then((t) => t.token);
      return ['--server', urlOf('gateway'), '--enroll-token', await enrollmentToken];
    }
    // The key is fetched here, by the harness, as a trusted setup step (what enrollment does for a
    // real device): agents refuse every assignment without a pinned key and never fetch one.
    signingKey ??= adminCall(options.natsUrl, options.trustDir, (rpc) => rpc.call(TasksRpc.getSigningKey, {})).then((k) => k.publicKeyDer);
    const pin = ['--control-plane-key', await signingKey];
    if (!options.trustDir) return pin;
    const creds = await provisionDeviceCreds(options.trustDir, deviceId, join(dir, 'provisioned'));
    return ['--nats-creds', creds, ...pin];
  };
  return {
    agentArgs,
    gatewayUrl: urlOf('gateway'),
    originUrl,
    apiToken: options.apiToken,
    processes,
    start,
    async stop() {
      await Promise.all(Object.values(processes).map((p) => p.stop().catch(() => undefined)));
    },
  };
}

export interface AgentProcessOptions {
  natsUrl: string;
  /** The control plane the agent joins: it gives the agent its credentials and pinned key (`agentArgs`). */
  controlPlane?: Pick<ControlPlane, 'agentArgs'>;
  deviceId: string;
  /** Identity, task state and spool; the cache goes in `<dir>/cache`. */
  dir: string;
  env?: Record<string, string>;
  args?: string[];
}

/** Starts an edge agent as its own process. */
export async function startAgentProcess(options: AgentProcessOptions): Promise<NodeProcess> {
  await mkdir(options.dir, { recursive: true });
  return spawnNodeProcess(join(REPO_ROOT, 'agents/agent/dist/src/cli.js'), {
    name: `agent-${options.deviceId}`,
    args: [
      '--nats', options.natsUrl,
      '--device-id', options.deviceId,
      '--state-dir', join(options.dir, 'state'),
      '--cache-dir', join(options.dir, 'cache'),
      '--include-loopback',
      ...(options.controlPlane ? await options.controlPlane.agentArgs(options.deviceId, options.dir) : []),
      ...(options.args ?? []),
    ],
    env: { LOG_LEVEL: 'info', ...(options.env ?? {}) },
    logFile: join(options.dir, 'agent.log'),
  });
}

/** Runs RPC calls as the trust directory's unrestricted user, or without credentials on an open server (a trusted setup step of a harness). */
export async function adminCall<T>(natsUrl: string, trustDir: string | undefined, fn: (rpc: RpcClient) => Promise<T>): Promise<T> {
  const authenticator = trustDir === undefined ? undefined : natsAuthenticator({ credsFile: join(trustDir, TRUST_FILES.adminCreds) });
  const nc = await connect({ servers: natsServers(natsUrl), authenticator });
  try {
    return await fn(new RpcClient(nc));
  } finally {
    await nc.close();
  }
}

/**
 * Credentials for a device without enrollment, issued straight from a trust directory (what an
 * administrator's tool could do for a device provisioned by image): a creds file in `dir`.
 */
export async function provisionDeviceCreds(trustDir: string, deviceId: string, dir: string): Promise<string> {
  const trust = await readTrustDir(trustDir);
  const key = createDeviceKey();
  const jwt = await issueDeviceUserJwt(userIssuerOf(trust), deviceId, key.publicKey);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${deviceId}.creds`);
  await writeFile(path, formatCreds(jwt, key.seed), { mode: 0o600 });
  return path;
}

/** A small client of the public API for tests, the demo and benchmarks. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async request<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** Like `request`, but throws with the response body unless the status is 2xx. */
  async ok<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request<T>(method, path, body);
    if (res.status < 200 || res.status >= 300) throw new Error(`${method} ${path} -> ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Streams `body` as a package's content (a Node stream or web stream; never read into memory here). */
  async upload<T = any>(packageId: string, body: NodeJS.ReadableStream | ReadableStream, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.baseUrl}/v1/packages/${packageId}/content`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/octet-stream', ...headers },
      body: body as any,
      duplex: 'half',
    } as RequestInit);
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }
}
