import { z } from 'zod';

/** A configuration value that failed validation; start-up stops with every bad variable named. */
export class ConfigError extends Error {
  readonly code = 'CONFIG.INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Validates an environment once into a typed object. Only a service's `config/` calls this;
 * nothing else reads process.env.
 */
export function parseEnv<T extends z.ZodTypeAny>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}

const bool = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1');

/** Variables every service shares. */
export const baseEnvSchema = z.object({
  /** One NATS URL, or a cluster's nodes separated by commas (the client moves between them). */
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  /** Copies of each JetStream stream: 1 on a single server, 3 on a 3-node core cluster (docs/scaling.md). */
  JETSTREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  /** The service's NATS user credentials (a creds file); needed when the server runs in operator mode. */
  NATS_CREDS_FILE: z.string().min(1).optional(),
  /** CA certificate (PEM) that signed the NATS server's TLS certificate: the connection then requires TLS. */
  NATS_TLS_CA_FILE: z.string().min(1).optional(),
  HTTP_HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** HTTPS: the service's certificate chain and key (PEM files); both or neither. Absent: plain HTTP. */
  HTTP_TLS_CERT_FILE: z.string().min(1).optional(),
  HTTP_TLS_KEY_FILE: z.string().min(1).optional(),
  /** OTLP/HTTP endpoint of a tracing backend; tracing is off when empty. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional().or(z.literal('').transform(() => undefined)),
});

export const databaseEnvSchema = z.object({
  DATABASE_URL: z.string().default('postgres://postgres@127.0.0.1:5432/test'),
  MIGRATE_ON_START: bool.default('true'),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
});

/** The HTTPS settings of a parsed environment, or undefined for plain HTTP; one of the two alone is a mistake. */
export function httpTlsOf(env: { HTTP_TLS_CERT_FILE?: string; HTTP_TLS_KEY_FILE?: string }): HttpTls | undefined {
  const { HTTP_TLS_CERT_FILE: certFile, HTTP_TLS_KEY_FILE: keyFile } = env;
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new ConfigError('invalid configuration:\n  HTTP_TLS_CERT_FILE and HTTP_TLS_KEY_FILE go together: give both for HTTPS, or neither');
  return { certFile, keyFile };
}

export interface HttpTls {
  certFile: string;
  keyFile: string;
}

export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
export { bool as envBoolean };
