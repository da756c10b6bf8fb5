import { join, resolve } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { freePort } from './free-port';
import { NodeProcess, spawnNodeProcess } from './node-process';
import { waitFor } from './wait-for';

/** The repository root, from this file's compiled place (libs/testing/dist). */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

export type ServiceName = 'inventory' | 'tasks' | 'origin' | 'gateway';

export interface ControlPlaneOptions {
  natsUrl: string;
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
}

export interface ControlPlane {
  gatewayUrl: string;
  originUrl: string;
  apiToken: string;
  processes: Record<ServiceName, NodeProcess>;
  /** Starts a service again with the same port and environment (after `kill` or `stop`). */
  start(name: ServiceName): Promise<NodeProcess>;
  stop(): Promise<void>;
}

const ENTRY: Record<ServiceName, string> = {
  inventory: 'services/inventory/dist/src/main.js',
  tasks: 'services/tasks/dist/src/main.js',
  origin: 'services/origin/dist/src/main.js',
  gateway: 'services/gateway/dist/src/main.js',
};

/**
 * Starts every control-plane service as its own process (as in production, one process each) and
 * waits until each answers /readyz. Used by the end-to-end tests, the demo and the benchmarks.
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  await mkdir(options.workDir, { recursive: true });
  const hostOf = (name: ServiceName): string => options.hosts?.[name] ?? '127.0.0.1';
  const ports: Record<ServiceName, number> = {
    inventory: await freePort(hostOf('inventory')),
    tasks: await freePort(hostOf('tasks')),
    origin: await freePort(hostOf('origin')),
    gateway: await freePort(hostOf('gateway')),
  };
  const urlOf = (name: ServiceName): string => `http://${hostOf(name)}:${ports[name]}`;
  const originUrl = urlOf('origin');
  const common = { NATS_URL: options.natsUrl, DATABASE_URL: options.databaseUrl, LOG_LEVEL: options.logLevel ?? 'info' };
  const envOf = (name: ServiceName): Record<string, string> => ({
    ...common,
    HTTP_HOST: hostOf(name),
    ...(options.commonEnv ?? {}),
    HTTP_PORT: String(ports[name]),
    ...(name === 'tasks' ? { ORIGIN_PUBLIC_URL: originUrl } : {}),
    ...(name === 'origin' ? { ORIGIN_STORE_DIR: join(options.workDir, 'origin-store'), API_TOKENS: options.apiToken } : {}),
    ...(name === 'gateway' ? { ORIGIN_URL: originUrl, API_TOKENS: options.apiToken } : {}),
    ...(options.env?.[name] ?? {}),
  });
  const processes = {} as Record<ServiceName, NodeProcess>;
  const start = async (name: ServiceName): Promise<NodeProcess> => {
    const proc = await spawnNodeProcess(join(REPO_ROOT, ENTRY[name]), { name, env: envOf(name), logFile: join(options.workDir, `${name}.log`) });
    processes[name] = proc;
    await waitFor(() => fetch(`${urlOf(name)}/readyz`).then((r) => r.ok, () => false), {
      timeoutMs: 60_000,
      intervalMs: 100,
      description: `${name} ready (${proc.describe()})`,
    });
    return proc;
  };
  // Tasks and inventory first: they create the streams and run their migrations.
  await Promise.all([start('inventory'), start('tasks')]);
  await Promise.all([start('origin'), start('gateway')]);
  return {
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
      ...(options.args ?? []),
    ],
    env: { LOG_LEVEL: 'info', ...(options.env ?? {}) },
    logFile: join(options.dir, 'agent.log'),
  });
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
