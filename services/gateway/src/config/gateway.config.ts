import { z } from 'zod';
import { baseEnvSchema, envBoolean, parseEnv, port } from '@fleetcast/service-kit';

/**
 * 64 GiB: the largest package we expect (OS images); a bigger body is refused before a byte of it
 * reaches the origin. Raise it with MAX_UPLOAD_BYTES.
 */
const DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 ** 3;

/**
 * The gateway's environment.
 *
 * - `API_TOKENS`: comma-separated bearer tokens; every `/v1` request must carry one of them as
 *   `Authorization: Bearer <token>`. Required, unless `AUTH_DISABLED=true`, which opens the whole
 *   API to anyone who reaches the port: for a developer's machine only, never a shared network.
 * - `ORIGIN_URL`: where uploads are streamed (the content origin's own API, not the URL devices use).
 * - `MAX_UPLOAD_BYTES`: the largest package body accepted by `PUT /v1/packages/:id/content`.
 */
export const gatewayEnvSchema = baseEnvSchema
  .extend({
    // 8080: the public API's customary port; the origin sits next to it on 8081.
    HTTP_PORT: port(8080),
    ORIGIN_URL: z.string().url().default('http://127.0.0.1:8081'),
    API_TOKENS: z.string().optional(),
    AUTH_DISABLED: envBoolean.default('false'),
    MAX_UPLOAD_BYTES: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).default(DEFAULT_MAX_UPLOAD_BYTES),
  })
  .transform((env, ctx) => {
    const apiTokens = (env.API_TOKENS ?? '')
      .split(',')
      .map((token) => token.trim())
      .filter((token) => token.length > 0);
    if (!env.AUTH_DISABLED && apiTokens.length === 0) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['API_TOKENS'],
        message: 'give at least one token (comma-separated), or set AUTH_DISABLED=true to run without authentication',
      });
    }
    // Tokens travel in an HTTP header: anything outside visible ASCII could never match.
    const unprintable = apiTokens.findIndex((token) => !/^[\x21-\x7e]+$/.test(token));
    if (unprintable >= 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['API_TOKENS'], message: `token ${unprintable + 1} must be printable ASCII without spaces` });
    }
    return { ...env, apiTokens };
  });

export interface GatewayConfig {
  natsUrl: string;
  natsCredsFile?: string;
  natsTlsCaFile?: string;
  httpHost: string;
  httpPort: number;
  logLevel: string;
  otlpEndpoint?: string;
  /** Base URL of the content origin's API, without a trailing slash. */
  originUrl: string;
  apiTokens: string[];
  authDisabled: boolean;
  maxUploadBytes: number;
}

/** Validates the environment once; the only reader of process.env in the gateway is main.ts, through this. */
export function loadGatewayConfig(env: NodeJS.ProcessEnv): GatewayConfig {
  const e = parseEnv(gatewayEnvSchema, env);
  return {
    natsUrl: e.NATS_URL,
    natsCredsFile: e.NATS_CREDS_FILE,
    natsTlsCaFile: e.NATS_TLS_CA_FILE,
    httpHost: e.HTTP_HOST,
    httpPort: e.HTTP_PORT,
    logLevel: e.LOG_LEVEL,
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    originUrl: e.ORIGIN_URL.replace(/\/+$/, ''),
    apiTokens: e.apiTokens,
    authDisabled: e.AUTH_DISABLED,
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
  };
}

/** Injection token of the validated configuration. */
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
