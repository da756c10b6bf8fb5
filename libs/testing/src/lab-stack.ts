import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Lab, LabHost } from '@fleetcast/netlab';
import { watchProcess } from './node-process';
import { startNatsServer, type NatsServer } from './nats-server';
import type { NodeProcess } from './node-process';
import { ApiClient, REPO_ROOT, startControlPlane, type ControlPlane, type ControlPlaneOptions } from './stack';
import { waitFor } from './wait-for';

export interface LabStackOptions {
  /** A built lab; its host is attached here unless it already is. */
  lab: Lab;
  /** The control plane's database, on the machine's own Postgres (the services run on the host). */
  databaseUrl: string;
  apiToken: string;
  /** Holds the services' logs and the origin's store, and every agent's state, cache and log. */
  workDir: string;
  /** Further agent command-line options, after those the stack sets. */
  agentArgs?: string[];
  /** Options for the agents' Node itself, before the script (e.g. `--cpu-prof --cpu-prof-dir <dir>` to profile them). */
  agentNodeArgs?: string[];
  /** Further agent environment; agents pass each of these variables on to install commands (`--installer-env`). */
  agentEnv?: Record<string, string>;
  /**
   * Devices (`<branch>-<index>`) that get no agent: a host on the subnet that is not a Fleetcast
   * device (e.g. one sending forged packets). They are not in `agents`, so no task targets them.
   */
  withoutAgent?: readonly string[];
  logLevel?: string;
  /** Extra environment per service, as `startControlPlane` takes it. */
  controlPlaneEnv?: ControlPlaneOptions['env'];
}

/** One device's agent, running in the device's namespace. */
export interface LabAgent {
  /** `<branch>-<device index>`, e.g. `east-2`. */
  deviceId: string;
  branch: string;
  /** The branch subnet: what the agent reports and the origin counts its downloads under. */
  subnet: string;
  ns: string;
  address: string;
  stateDir: string;
  /** The agent's distribution cache; verified content lies in `<cacheDir>/content/<sha256>`. */
  cacheDir: string;
  /** Every run of the agent appends its output here. */
  logFile: string;
  /** The agent's current process: replaced when `LabStack.startAgent` starts it again. */
  process: NodeProcess;
}

export interface LabStack {
  lab: Lab;
  /** The host's place on the lab's core network, where NATS and the origin listen. */
  host: LabHost;
  nats: NatsServer;
  controlPlane: ControlPlane;
  /** The public API (the gateway, on loopback: only the caller uses it). */
  api: ApiClient;
  /** The origin itself, at its lab address: its byte counts per subnet. */
  origin: ApiClient;
  agents: LabAgent[];
  /** The agent of a device, by device ID; throws if the device has none. */
  agent(deviceId: string): LabAgent;
  /**
   * Starts a stopped (or killed) agent again with the same state, cache and log, as a device that
   * comes back online: it resumes its tasks and receives the assignments sent while it was away.
   * Resolves once it is ready; throws if it is still running.
   */
  startAgent(deviceId: string): Promise<LabAgent>;
  /** Stops the agents, the control plane and NATS; the lab (and its host link) stays for its owner to destroy. */
  stop(): Promise<void>;
}

const AGENT_CLI = join(REPO_ROOT, 'agents/agent/dist/src/cli.js');
/** Several agents start at once on a 2-core machine, each loading Node, NATS and telemetry. */
const AGENT_READY_TIMEOUT_MS = 60_000;
/** The first inventory scan follows the agent's start within a second or two; NATS may be busy. */
const INVENTORY_TIMEOUT_MS = 30_000;
/** Variables of the test run that must not leak into an agent (see node-process.ts). */
const NOT_INHERITED = ['NODE_TEST_CONTEXT'];

/**
 * The Fleetcast stack on a network lab: NATS and the control plane on the host (joined to the
 * lab's core network, because the services need the host's Postgres), NATS and the origin bound to
 * the host's lab address, and one agent per device namespace (but those named in `withoutAgent`). Agents reach NATS and download from
 * the origin across their branch's shaped WAN link, and see only their lab interface (no
 * `--include-loopback`), so their subnet is the branch subnet. Resolves once every agent is
 * running and the inventory knows each device on its branch subnet; on failure stops what it
 * started and throws.
 */
export async function startLabStack(options: LabStackOptions): Promise<LabStack> {
  const { lab } = options;
  const logLevel = options.logLevel ?? 'info';
  await mkdir(options.workDir, { recursive: true });
  const host = lab.host ?? (await lab.attachHost());
  const started: Array<() => Promise<unknown>> = [];
  const stopStarted = async (): Promise<void> => {
    // Reverse order: agents before the control plane, the control plane before NATS.
    for (const stop of started.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    const nats = await startNatsServer({ host: host.address });
    started.push(() => nats.stop());
    const controlPlane = await startControlPlane({
      natsUrl: nats.url,
      trustDir: nats.trust?.dir,
      databaseUrl: options.databaseUrl,
      workDir: join(options.workDir, 'control-plane'),
      apiToken: options.apiToken,
      logLevel,
      hosts: { origin: host.address },
      ...(options.controlPlaneEnv ? { env: options.controlPlaneEnv } : {}),
    });
    started.push(() => controlPlane.stop());
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: logLevel, ...(options.agentEnv ?? {}) };
    for (const name of NOT_INHERITED) delete env[name];

    const spawnAgent = async (agent: Omit<LabAgent, 'process'>): Promise<NodeProcess> => {
      const credentials = await controlPlane.agentArgs(agent.deviceId, dirname(agent.stateDir));
      const installerEnv = Object.keys(options.agentEnv ?? {}).flatMap((name) => ['--installer-env', name]);
      const args = ['--enable-source-maps', ...(options.agentNodeArgs ?? []), AGENT_CLI, '--nats', nats.url, '--device-id', agent.deviceId, '--state-dir', agent.stateDir, '--cache-dir', agent.cacheDir, ...credentials, ...installerEnv, ...(options.agentArgs ?? [])];
      // Its own process group, so that stopping it also ends what it started (install commands).
      const child = lab.spawn(agent.ns, process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      return watchProcess(child, { name: `agent-${agent.deviceId}`, logFile: agent.logFile });
    };
    const agents: LabAgent[] = [];
    // Stops whichever process each agent runs now (a restarted agent has a new one).
    started.push(() => Promise.all(agents.map((a) => a.process.stop())));
    const withoutAgent = new Set(options.withoutAgent ?? []);
    for (const branch of lab.branches) {
      for (const device of branch.devices) {
        const deviceId = `${branch.name}-${device.index}`;
        if (withoutAgent.has(deviceId)) continue;
        const dir = join(options.workDir, 'agents', deviceId);
        await mkdir(dir, { recursive: true });
        const agent = { deviceId, branch: branch.name, subnet: branch.subnet, ns: device.ns, address: device.address, stateDir: join(dir, 'state'), cacheDir: join(dir, 'cache'), logFile: join(dir, 'agent.log') };
        agents.push({ ...agent, process: await spawnAgent(agent) });
      }
    }
    await Promise.all(agents.map((a) => a.process.waitForOutput(/agent ready/, { timeoutMs: AGENT_READY_TIMEOUT_MS })));

    const api = new ApiClient(controlPlane.gatewayUrl, options.apiToken);
    // Tasks are split by the subnet the inventory has for each device: wait until it has the right one.
    let missing: string[] = [];
    await waitFor(
      async () => {
        const known = new Map<string, string[]>();
        for (let offset = 0; ; offset += 1000) {
          const page = await api.ok<{ items: Array<{ id: string; subnets: string[] }>; total: number }>('GET', `/v1/devices?limit=1000&offset=${offset}`);
          for (const device of page.items) known.set(device.id, device.subnets);
          if (page.items.length === 0 || offset + page.items.length >= page.total) break;
        }
        missing = agents.filter((a) => !known.get(a.deviceId)?.includes(a.subnet)).map((a) => `${a.deviceId} (has ${known.get(a.deviceId)?.join(' ') || 'no device record'})`);
        return missing.length === 0;
      },
      { timeoutMs: INVENTORY_TIMEOUT_MS, intervalMs: 250, description: 'the inventory to know every lab device on its branch subnet' },
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; not yet on their branch subnet: ${missing.join(', ')}`, { cause: error });
    });

    const agentOf = (deviceId: string): LabAgent => {
      const agent = agents.find((a) => a.deviceId === deviceId);
      if (!agent) throw new Error(`no agent runs on ${deviceId} (agents: ${agents.map((a) => a.deviceId).join(', ')})`);
      return agent;
    };
    return {
      lab,
      host,
      nats,
      controlPlane,
      api,
      origin: new ApiClient(controlPlane.originUrl, options.apiToken),
      agents,
      agent: agentOf,
      async startAgent(deviceId) {
        const agent = agentOf(deviceId);
        if (agent.process.running) throw new Error(`the agent of ${deviceId} is still running (pid ${agent.process.pid})`);
        // Same directories and log file (appended to); the new process's own output says when it is ready.
        agent.process = await spawnAgent(agent);
        await agent.process.waitForOutput(/agent ready/, { timeoutMs: AGENT_READY_TIMEOUT_MS });
        return agent;
      },
      stop: stopStarted,
    };
  } catch (error) {
    await stopStarted();
    throw error;
  }
}
