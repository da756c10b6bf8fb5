import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { DEFAULT_SPOOL_LIMITS } from '../core/spool-policy';
import { DEFAULT_LIFECYCLE_OPTIONS } from '../core/task-lifecycle';
import { INSTALLER_ENV_NAME } from '../core/installer-env';
import { DEFAULT_MULTICAST_GROUP_V4, DEFAULT_MULTICAST_PORT, DEFAULT_PEER_PORT, MAX_WEIGHT, NEVER_REPRESENTATIVE_WEIGHT } from '@fleetcast/lan-protocol';

/** Everything the agent can be configured with; a config file and the command line share these keys. */
export const agentConfigSchema = z.object({
  nats: z.string().min(1).default('nats://127.0.0.1:4222'),
  /** A provisioned NATS creds file; absent: the credentials of the device's enrollment. */
  natsCreds: z.string().min(1).optional(),
  /** CA certificate (PEM) of the NATS server's TLS certificate: the connection then requires TLS. */
  natsCa: z.string().min(1).optional(),
  /**
   * The core's JetStream domain, for an agent connected to a branch leaf node: a leaf carries
   * JetStream requests to the core only under the core's domain (docs/scaling.md). Absent: the
   * agent talks to the core directly.
   */
  natsJsDomain: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a JetStream domain name (letters, digits, - and _)')
    .optional(),
  /** The control plane's URL (the API gateway), for enrolling on first start. */
  server: z.string().url().optional(),
  /** An enrollment token, for enrolling on first start. */
  enrollToken: z.string().min(1).optional(),
  deviceId: z.string().optional(),
  stateDir: z.string().default(join(homedir(), '.fleetcast', 'agent')),
  cacheDir: z.string().optional(),
  includeLoopback: z.boolean().default(false),
  /** Seed: settings reach devices at their next scan; hourly keeps the inventory fresh at little cost. */
  scanIntervalSeconds: z.number().int().min(5).max(7 * 24 * 3600).default(3600),
  progressIntervalMs: z.number().int().min(100).max(60_000).default(1000),
  /**
   * How long a task may be blocked by something only the device can end (CACHE.NO_SPACE) before it
   * fails with that reason; it is reported at once either way. Default 600 (see the lifecycle's defaults).
   */
  blockedFailAfterSeconds: z.number().int().min(0).max(30 * 24 * 3600).default(DEFAULT_LIFECYCLE_OPTIONS.blockedFailAfterMs / 1000),
  /**
   * Base64 SPKI DER of a control-plane public key, added to the pinned set in the state dir
   * (enrollment pins the set otherwise). Nothing is trusted on first use: without a pinned key the
   * agent refuses every assignment.
   */
  controlPlaneKey: z.string().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** OTLP/HTTP endpoint of a tracing backend (OTEL_EXPORTER_OTLP_ENDPOINT when not given); tracing is off without one. */
  otlpEndpoint: z.string().url().optional(),
  /**
   * Limits of the outgoing spool of reports and scans waiting for NATS: when over one, reports and
   * scans that newer ones supersede go first, then the oldest progress reports and scans; final
   * reports are never dropped (see core/spool-policy.ts for the defaults' reasons).
   */
  spoolMaxFiles: z.number().int().min(10).max(1_000_000).default(DEFAULT_SPOOL_LIMITS.maxFiles),
  spoolMaxBytes: z.number().int().min(64 * 1024).default(DEFAULT_SPOOL_LIMITS.maxBytes),
  /**
   * Variables of the agent's environment that install commands get too, by name: they run with a
   * minimal environment otherwise (PATH, the platform's essentials, FLEETCAST_PACKAGE_PATH; see
   * core/installer-env.ts), never the agent's whole environment.
   */
  installerEnv: z.array(z.string().regex(INSTALLER_ENV_NAME, 'must be an environment variable name')).max(100).default([]),
  /** Port of the local /metrics, /status and /healthz endpoint; absent = not served. */
  statusPort: z.number().int().min(0).max(65535).optional(),
  /** Address of that endpoint: loopback unless the operator opens it to the network. */
  statusHost: z.string().default('127.0.0.1'),
  /**
   * Take part in subnet multicast sessions for tasks whose settings ask for it (the profile's "use
   * multicast", on by default). Off: the agent downloads from the origin whatever the task says.
   */
  multicast: z.boolean().default(true),
  /** IPv4 multicast group of the sessions (default: Local Scope, RFC 2365; see the LAN protocol's constants). */
  multicastGroup: z
    .string()
    .refine((v) => ipaddr.IPv4.isValidFourPartDecimal(v) && ipaddr.IPv4.parse(v).range() === 'multicast', 'must be an IPv4 multicast address')
    .default(DEFAULT_MULTICAST_GROUP_V4),
  multicastPort: z.number().int().min(1).max(65535).default(DEFAULT_MULTICAST_PORT),
  /** Election weight: higher wins (wired over Wi-Fi, desktop over laptop); 0 never becomes representative. */
  representativeWeight: z.number().int().min(NEVER_REPRESENTATIVE_WEIGHT).max(MAX_WEIGHT).default(1),
  /** IPv4 address of the LAN interface for sessions; absent: the device's primary IPv4 address. */
  lanInterface: z.string().refine((v) => ipaddr.IPv4.isValidFourPartDecimal(v), 'must be an IPv4 address').optional(),
  /** TCP port of the peer block server on the LAN interface; 0 = any free port (several agents on one host). */
  peerPort: z.number().int().min(0).max(65535).default(DEFAULT_PEER_PORT),
  /**
   * Fetch from and serve the office's peers for tasks whose settings allow peer downloads (the
   * office swarm, docs/p2p.md). Off: no swarm (multicast sessions still repair from subnet peers).
   */
  peers: z.boolean().default(true),
  /**
   * Uploads to peers at once. 4: each holds at most one block (1 MiB) in memory, and on a gigabit
   * LAN 4 keep the link busy while a 2-core device keeps its CPU and disk for its own work.
   */
  peerMaxUploads: z.number().int().min(1).max(64).default(4),
  /** All uploads to peers together at most this rate in kbit/s (Wi-Fi, a busy laptop); 0 = no cap. */
  peerUploadKbps: z.number().int().min(0).max(100_000_000).default(0),
});
export type AgentFileConfig = z.input<typeof agentConfigSchema>;
export type ResolvedAgentConfig = z.infer<typeof agentConfigSchema> & { cacheDir: string };

export class AgentConfigError extends Error {
  readonly code = 'AGENT.CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'AgentConfigError';
  }
}

/** Merges the config file (if any) under the command-line values, then validates once. */
export function resolveAgentConfig(cli: Record<string, unknown>, env: NodeJS.ProcessEnv): ResolvedAgentConfig {
  let file: Record<string, unknown> = {};
  if (typeof cli.config === 'string') {
    try {
      file = JSON.parse(readFileSync(cli.config, 'utf8'));
    } catch (error) {
      throw new AgentConfigError(`cannot read config file ${cli.config}: ${(error as Error).message}`);
    }
  }
  const { config: _ignored, ...fromCli } = cli;
  const merged = { ...file, ...Object.fromEntries(Object.entries(fromCli).filter(([, v]) => v !== undefined)) };
  if (env.LOG_LEVEL && merged.logLevel === undefined) merged.logLevel = env.LOG_LEVEL;
  // The standard OpenTelemetry variable, as the services read it; empty means off (compose passes it through unset).
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT && merged.otlpEndpoint === undefined) merged.otlpEndpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const result = agentConfigSchema.safeParse(merged);
  if (!result.success) {
    throw new AgentConfigError(`invalid agent configuration: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return { ...result.data, cacheDir: result.data.cacheDir ?? join(result.data.stateDir, 'cache') };
}
