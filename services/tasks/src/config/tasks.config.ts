import { z } from 'zod';
import { Streams } from '@fleetcast/contracts';
import { baseEnvSchema, databaseEnvSchema, HttpTls, httpTlsOf, parseEnv, port } from '@fleetcast/service-kit';
import { DEFAULT_RESEND_POLICY, ResendPolicy } from '../tasks/assignment-resend';

export const tasksEnvSchema = baseEnvSchema.merge(databaseEnvSchema).extend({
  HTTP_PORT: port(3002),
  /** Base URL agents download content from (the origin as the devices reach it). */
  ORIGIN_PUBLIC_URL: z.string().url().default('http://127.0.0.1:8081'),
  /**
   * The origin as the tasks service reaches it, where it reads the block hashes of stored content
   * to sign manifests over. Absent: ORIGIN_PUBLIC_URL.
   */
  ORIGIN_URL: z.string().url().optional(),
  /**
   * The first control-plane signing key (Ed25519, PKCS#8 PEM), stored as the active key when the
   * database holds none. Absent: one is generated. Rotation replaces it in the database afterwards.
   */
  SIGNING_KEY_PEM: z.string().optional(),
  /**
   * Secret shared with the origin (base64, at least 32 bytes): download tokens are HMACs under it.
   * Absent: no tokens are issued, and only an origin without the secret serves the devices.
   */
  DOWNLOAD_TOKEN_SECRET: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === '') return undefined;
      const bytes = Buffer.from(text, 'base64');
      if (bytes.length < 32) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be at least 32 bytes, base64 (openssl rand -base64 32)' });
        return z.NEVER;
      }
      return bytes;
    }),
  /**
   * The origin's API token (one of its API_TOKENS), sent when the tasks service asks the origin to
   * seal a confidential package's content. Absent: sent without one (an origin with no tokens).
   */
  ORIGIN_API_TOKEN: z.string().optional(),
  /**
   * Key (base64, 32 bytes) that wraps confidential packages' content keys in the database, so that a
   * copy of the database alone opens nothing. Absent: content keys are stored as they are (and the
   * service says so when it starts). Changing it makes the keys stored under the old one unusable.
   */
  CONTENT_KEY_SECRET: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === '') return undefined;
      const bytes = Buffer.from(text, 'base64');
      if (bytes.length !== 32) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be 32 bytes, base64 (openssl rand -base64 32)' });
        return z.NEVER;
      }
      return bytes;
    }),
  /** An hour: a download of a large package over a slow link takes longer, and a device asks again when its token runs out. */
  DOWNLOAD_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(24 * 3600).default(3600),
  /**
   * A device that has not acknowledged an assignment after this long gets it again; the delay then
   * doubles with every resend up to ASSIGNMENT_RESEND_MAX_SECONDS, for ASSIGNMENT_RESEND_LIMIT
   * resends at most (see `assignment-resend.ts` for the defaults' reasons).
   */
  ASSIGNMENT_RESEND_SECONDS: z.coerce.number().int().min(1).default(DEFAULT_RESEND_POLICY.firstDelaySeconds),
  ASSIGNMENT_RESEND_MAX_SECONDS: z.coerce.number().int().min(1).default(DEFAULT_RESEND_POLICY.maxDelaySeconds),
  /** At most 100: every resend is a message kept on the device's subject of TASK_ASSIGNMENTS. */
  ASSIGNMENT_RESEND_LIMIT: z.coerce.number().int().min(0).max(100).default(DEFAULT_RESEND_POLICY.maxResends),
  /**
   * How long after a task's start a device may still act on its assignment (the signed expiry).
   * 30 days, the TASK_ASSIGNMENTS stream's retention: a device offline for as long as the stream
   * keeps its assignment still runs the task when it returns, and none later.
   */
  ASSIGNMENT_VALIDITY_SECONDS: z.coerce.number().int().min(60).default(Streams.taskAssignments.maxAgeSeconds),
  STATUS_BATCH_SIZE: z.coerce.number().int().min(1).max(5000).default(500),
  /** How often scheduled tasks and unacknowledged assignments are checked. */
  SCHEDULER_INTERVAL_MS: z.coerce.number().int().min(50).default(1000),
});

export type TasksConfig = {
  natsUrl: string;
  /** Copies of each JetStream stream (JETSTREAM_REPLICAS). */
  jetstreamReplicas?: number;
  httpTls?: HttpTls;
  natsCredsFile?: string;
  natsTlsCaFile?: string;
  httpHost: string;
  httpPort: number;
  logLevel: string;
  otlpEndpoint?: string;
  databaseUrl: string;
  migrateOnStart: boolean;
  dbPoolSize: number;
  originPublicUrl: string;
  originUrl: string;
  signingKeyPem?: string;
  downloadTokenSecret?: Buffer;
  downloadTokenTtlSeconds: number;
  originApiToken?: string;
  contentKeySecret?: Buffer;
  assignmentResend: ResendPolicy;
  assignmentValiditySeconds: number;
  statusBatchSize: number;
  schedulerIntervalMs: number;
};

export function loadTasksConfig(env: NodeJS.ProcessEnv): TasksConfig {
  const e = parseEnv(
    tasksEnvSchema.refine((v) => v.ASSIGNMENT_RESEND_MAX_SECONDS >= v.ASSIGNMENT_RESEND_SECONDS, {
      message: 'must be at least ASSIGNMENT_RESEND_SECONDS',
      path: ['ASSIGNMENT_RESEND_MAX_SECONDS'],
    }),
    env,
  );
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
    databaseUrl: e.DATABASE_URL,
    migrateOnStart: e.MIGRATE_ON_START,
    dbPoolSize: e.DB_POOL_SIZE,
    originPublicUrl: e.ORIGIN_PUBLIC_URL.replace(/\/$/, ''),
    originUrl: (e.ORIGIN_URL ?? e.ORIGIN_PUBLIC_URL).replace(/\/$/, ''),
    signingKeyPem: e.SIGNING_KEY_PEM,
    downloadTokenSecret: e.DOWNLOAD_TOKEN_SECRET,
    downloadTokenTtlSeconds: e.DOWNLOAD_TOKEN_TTL_SECONDS,
    originApiToken: e.ORIGIN_API_TOKEN,
    contentKeySecret: e.CONTENT_KEY_SECRET,
    assignmentResend: { firstDelaySeconds: e.ASSIGNMENT_RESEND_SECONDS, maxDelaySeconds: e.ASSIGNMENT_RESEND_MAX_SECONDS, maxResends: e.ASSIGNMENT_RESEND_LIMIT },
    assignmentValiditySeconds: e.ASSIGNMENT_VALIDITY_SECONDS,
    statusBatchSize: e.STATUS_BATCH_SIZE,
    schedulerIntervalMs: e.SCHEDULER_INTERVAL_MS,
  };
}

export const TASKS_CONFIG = Symbol('TASKS_CONFIG');
