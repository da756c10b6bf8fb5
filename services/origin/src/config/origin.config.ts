import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';

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
}

/** An environment that cannot start the origin; the message names every bad variable. */
export class OriginConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OriginConfigError';
  }
}

/** An empty variable (`HTTP_PORT=`) means "unset", as in a compose file with a blank default. */
const blankIsUnset = (value: unknown): unknown => (typeof value === 'string' && value.trim() === '' ? undefined : value);

const envSchema = z.object({
  // 8081: next to the API gateway's 8080, so a one-machine stack needs no port remapping.
  HTTP_PORT: z.preprocess(
    blankIsUnset,
    z
      .string()
      .regex(/^\d+$/, 'must be a port number (0-65535)')
      .transform(Number)
      .pipe(z.number().int().min(0, 'must be 0-65535').max(65535, 'must be 0-65535'))
      .default('8081'),
  ),
  HTTP_HOST: z.preprocess(blankIsUnset, z.string().default('0.0.0.0')),
  ORIGIN_STORE_DIR: z.preprocess(blankIsUnset, z.string().default('./.fleetcast/origin')),
  API_TOKENS: z.preprocess(
    blankIsUnset,
    z
      .string()
      .optional()
      .transform((raw) => (raw ?? '').split(',').map((token) => token.trim()).filter((token) => token.length > 0))
      .refine((tokens) => tokens.every((token) => /^[\x21-\x7e]+$/.test(token)), 'tokens must be printable ASCII without spaces'),
  ),
});

/**
 * Validates the environment into an {@link OriginConfig}. The only reader of `process.env` in the
 * origin; tests pass their own object instead.
 */
export function loadOriginConfig(env: Readonly<Record<string, string | undefined>> = process.env): OriginConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new OriginConfigError(`invalid origin configuration: ${problems.join('; ')}`);
  }
  const { HTTP_PORT, HTTP_HOST, ORIGIN_STORE_DIR, API_TOKENS } = parsed.data;
  return {
    port: HTTP_PORT,
    host: HTTP_HOST,
    storeDir: isAbsolute(ORIGIN_STORE_DIR) ? ORIGIN_STORE_DIR : resolve(ORIGIN_STORE_DIR),
    apiTokens: API_TOKENS,
  };
}
