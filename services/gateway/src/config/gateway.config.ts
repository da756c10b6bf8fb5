import { resolve } from 'node:path';
import { z } from 'zod';
import { MAX_WAN_BANDWIDTH_KBPS } from '@fleetcast/contracts';
import { baseEnvSchema, envBoolean, HttpTls, httpTlsOf, parseEnv, port } from '@fleetcast/service-kit';
import { ApiToken, parseApiTokens } from '../auth/api-tokens';

/**
 * 64 GiB: the largest package we expect (OS images); a bigger body is refused before a byte of it
 * reaches the origin. Raise it with MAX_UPLOAD_BYTES.
 */
const DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 ** 3;

/**
 * The gateway's environment.
 *
 * - `API_TOKENS`: comma-separated entries `<name>:<scope>:sha256:<hex>` (see `auth/api-tokens.ts`;
 *   `api-token new` makes one); every `/v1` request must carry one of those tokens as
 *   `Authorization: Bearer <token>`, with a scope that covers the route. An entry without `:` is a
 *   token in clear (the earlier form): admin, with a warning at start. Required, unless
 *   `AUTH_DISABLED=true`, which opens the whole API to anyone who reaches the port: for a
 *   developer's machine only, never a shared network.
 * - `ORIGIN_URL`: where uploads are streamed (the content origin's own API, not the URL devices use).
 * - `ORIGIN_API_TOKEN`: the token the gateway shows the origin on uploads (the origin's own
 *   `API_TOKENS`); absent: the caller's Authorization header is passed on, as before, which needs the
 *   caller's token in clear in the origin's configuration.
 * - `MAX_UPLOAD_BYTES`: the largest package body accepted by `PUT /v1/packages/:id/content`.
 * - `EVENTS_HEARTBEAT_SECONDS`: how often the live event stream (`GET /v1/events`) sends a
 *   heartbeat; `EVENTS_MAX_CLIENTS`: how many event streams the gateway holds open at once.
 * - `CONSOLE_DIR`: the built web console (`index.html` and `assets/`) served at `/console`; by
 *   default the repository's `apps/console/dist/web`, found from where the gateway's compiled code lies.
 * - `PLAN_DEFAULT_WAN_KBPS`: the WAN bandwidth the planner gives each subnet when no topology is uploaded.
 */
export const gatewayEnvSchema = baseEnvSchema
  .extend({
    // 8080: the public API's customary port; the origin sits next to it on 8081.
    HTTP_PORT: port(8080),
    ORIGIN_URL: z.string().url().default('http://127.0.0.1:8081'),
    // What an Authorization header can carry as a bearer token.
    ORIGIN_API_TOKEN: z.string().regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces').optional(),
    API_TOKENS: z.string().optional(),
    AUTH_DISABLED: envBoolean.default('false'),
    MAX_UPLOAD_BYTES: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).default(DEFAULT_MAX_UPLOAD_BYTES),
    // 15 s: under the 30-60 s after which proxies and load balancers commonly drop an idle connection.
    EVENTS_HEARTBEAT_SECONDS: z.coerce.number().positive().max(3600).default(15),
    // Each stream holds a socket and up to two NATS subscriptions; 500 covers every console and CLI
    // of a large operations team and bounds what a token holder can make the gateway hold.
    EVENTS_MAX_CLIENTS: z.coerce.number().int().positive().max(100_000).default(500),
    CONSOLE_DIR: z.string().min(1).optional(),
    // The planner's WAN link per subnet when no topology is uploaded: the topology draft's placeholder, 10 Mbit/s.
    PLAN_DEFAULT_WAN_KBPS: z.coerce.number().int().min(1).max(MAX_WAN_BANDWIDTH_KBPS).default(10_000),
  })
  .transform((env, ctx) => {
    const { tokens, problems } = parseApiTokens(env.API_TOKENS ?? '');
    for (const problem of problems) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['API_TOKENS'], message: problem });
    if (!env.AUTH_DISABLED && tokens.length === 0 && problems.length === 0) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['API_TOKENS'],
        message: 'give at least one token entry (comma-separated; make one with `api-token new`), or set AUTH_DISABLED=true to run without authentication',
      });
    }
    return { ...env, apiTokens: tokens };
  });

export interface GatewayConfig {
  natsUrl: string;
  httpTls?: HttpTls;
  natsCredsFile?: string;
  natsTlsCaFile?: string;
  httpHost: string;
  httpPort: number;
  logLevel: string;
  otlpEndpoint?: string;
  /** Base URL of the content origin's API, without a trailing slash. */
  /** Copies of each JetStream stream the gateway makes (JETSTREAM_REPLICAS). */
  jetstreamReplicas?: number;
  originUrl: string;
  /** Shown to the origin on uploads instead of the caller's token, when set. */
  originApiToken?: string;
  /** The tokens that may use the API, with their names and scopes (hashes only). */
  apiTokens: readonly ApiToken[];
  authDisabled: boolean;
  maxUploadBytes: number;
  /** Live event stream: heartbeat interval (ms) and most streams open at once (absent: 15 s, 500). */
  events?: { heartbeatMs: number; maxClients: number };
  /**
   * Absolute path of the built web console; `/console` answers 404 while it holds no `index.html`.
   * Absent (a configuration built by hand, as tests do): DEFAULT_CONSOLE_DIR.
   */
  consoleDir?: string;
  /** The what-if planner's WAN bandwidth per subnet (kbit/s) when no topology is uploaded. */
  planDefaultWanKbps?: number;
}

/**
 * Where the console's build lands in the repository (`apps/console`, `vite build`), from this file's
 * compiled place (`services/gateway/dist/src/config`): a checkout runs the console without setting
 * anything. A deployment that ships the files elsewhere sets CONSOLE_DIR.
 */
export const DEFAULT_CONSOLE_DIR = resolve(__dirname, '..', '..', '..', '..', '..', 'apps', 'console', 'dist', 'web');

/** Validates the environment once; the only reader of process.env in the gateway is main.ts, through this. */
export function loadGatewayConfig(env: NodeJS.ProcessEnv): GatewayConfig {
  const e = parseEnv(gatewayEnvSchema, env);
  return {
    natsUrl: e.NATS_URL,
    jetstreamReplicas: e.JETSTREAM_REPLICAS,
    httpTls: httpTlsOf(e),
    natsCredsFile: e.NATS_CREDS_FILE,
    natsTlsCaFile: e.NATS_TLS_CA_FILE,
    httpHost: e.HTTP_HOST,
    httpPort: e.HTTP_PORT,
    logLevel: e.LOG_LEVEL,
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    originUrl: e.ORIGIN_URL.replace(/\/+$/, ''),
    ...(e.ORIGIN_API_TOKEN ? { originApiToken: e.ORIGIN_API_TOKEN } : {}),
    apiTokens: e.apiTokens,
    authDisabled: e.AUTH_DISABLED,
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    events: { heartbeatMs: Math.round(e.EVENTS_HEARTBEAT_SECONDS * 1000), maxClients: e.EVENTS_MAX_CLIENTS },
    consoleDir: resolve(e.CONSOLE_DIR ?? DEFAULT_CONSOLE_DIR),
    planDefaultWanKbps: e.PLAN_DEFAULT_WAN_KBPS,
  };
}

/** Injection token of the validated configuration. */
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
