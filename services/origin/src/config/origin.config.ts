import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { baseEnvSchema, HttpTls, httpTlsOf, parseEnv } from '@fleetcast/service-kit';

/** Nest injection token of the validated configuration. */
export const ORIGIN_CONFIG = Symbol('ORIGIN_CONFIG');

/** The origin's configuration, validated once at start-up. */
export interface OriginConfig {
  /** TCP port to listen on; 0 lets the OS pick one. */
  readonly port: number;
  readonly host: string;
  /** Absolute path of the content store. */
  readonly storeDir: string;
  /** Bearer tokens accepted for uploads and other writes; empty = writes are open. */
  readonly apiTokens: readonly string[];
  /**
   * The secret download tokens are checked with (shared with the tasks service, which issues them);
   * absent: downloads are open to anyone who can reach the origin (a developer's machine).
   */
  readonly downloadTokenSecret?: Buffer;
  /** How long an unfinished (or finished, unread) resumable upload is kept after its last chunk; then it is removed. */
  readonly uploadTtlMs: number;
  /** Largest size a resumable upload may declare. */
  readonly maxUploadBytes: number;
  /** HTTPS certificate and key; absent: plain HTTP. */
  readonly httpTls?: HttpTls;
  readonly logLevel: string;
  /** OTLP/HTTP endpoint of a tracing backend; tracing is off when absent. */
  readonly otlpEndpoint?: string;
}

// The origin speaks no NATS: of the shared variables it takes the HTTP host, the log level and tracing.
const originEnvSchema = baseEnvSchema.omit({ NATS_URL: true, JETSTREAM_REPLICAS: true }).extend({
  // 8081: next to the API gateway's 8080, so a one-machine stack needs no port remapping. Stricter
  // than a numeric coercion: "1e3", "0x50" or " 80" are typing mistakes, not ports.
  HTTP_PORT: z
    .string()
    .regex(/^\d+$/, 'must be a port number (0-65535)')
    .transform(Number)
    .pipe(z.number().int().min(0, 'must be 0-65535').max(65535, 'must be 0-65535'))
    .default('8081'),
  ORIGIN_STORE_DIR: z.string().default('./.fleetcast/origin'),
  API_TOKENS: z
    .string()
    .optional()
    .transform((raw) => (raw ?? '').split(',').map((token) => token.trim()).filter((token) => token.length > 0))
    // What an Authorization header can carry as a bearer token: a token with a space could never match.
    .refine((tokens) => tokens.every((token) => /^[\x21-\x7e]+$/.test(token)), 'tokens must be printable ASCII without spaces'),
  // A day: an upload broken off in the evening is resumed the next morning; disk held by abandoned ones is bounded by it.
  UPLOAD_TTL_SECONDS: z
    .string()
    .regex(/^\d+$/, 'must be a whole number of seconds')
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be at least 1 second'))
    .default('86400'),
  // 64 GiB, as the gateway's MAX_UPLOAD_BYTES default: the largest package the system is built for.
  MAX_UPLOAD_BYTES: z
    .string()
    .regex(/^\d+$/, 'must be a whole number of bytes')
    .transform(Number)
    .pipe(z.number().int().min(1))
    .default(String(64 * 1024 ** 3)),
  DOWNLOAD_TOKEN_SECRET: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return undefined;
      const bytes = Buffer.from(text, 'base64');
      if (bytes.length < 32) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be at least 32 bytes, base64 (the same value as the tasks service)' });
        return z.NEVER;
      }
      return bytes;
    }),
});

/** An empty variable (`HTTP_PORT=`) means "unset", as in a compose file with a blank default. */
function withoutBlanks(env: Readonly<Record<string, string | undefined>>): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''));
}

/**
 * Validates the environment into an {@link OriginConfig}; throws a ConfigError naming every bad
 * variable. The only reader of `process.env` in the origin; tests pass their own object instead.
 */
export function loadOriginConfig(env: Readonly<Record<string, string | undefined>> = process.env): OriginConfig {
  const e = parseEnv(originEnvSchema, withoutBlanks(env));
  return {
    port: e.HTTP_PORT,
    host: e.HTTP_HOST,
    storeDir: isAbsolute(e.ORIGIN_STORE_DIR) ? e.ORIGIN_STORE_DIR : resolve(e.ORIGIN_STORE_DIR),
    apiTokens: e.API_TOKENS,
    uploadTtlMs: e.UPLOAD_TTL_SECONDS * 1000,
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    ...(httpTlsOf(e) ? { httpTls: httpTlsOf(e) } : {}),
    ...(e.DOWNLOAD_TOKEN_SECRET ? { downloadTokenSecret: e.DOWNLOAD_TOKEN_SECRET } : {}),
    logLevel: e.LOG_LEVEL,
    ...(e.OTEL_EXPORTER_OTLP_ENDPOINT ? { otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT } : {}),
  };
}
