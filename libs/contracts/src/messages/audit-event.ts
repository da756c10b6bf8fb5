import { z } from 'zod';
import { idSchema, isoTimeSchema } from '../common';
import { SubjectBase, versioned } from '../subjects';

/**
 * What an API token may do. Each scope includes the ones before it:
 * - `read-only`: reads only (GET);
 * - `operator`: the day-to-day changes: packages and their uploads, profiles, tasks, enrollment tokens;
 * - `admin`: everything, including what is hard to undo or is about the API's own use: installing a
 *   license, retiring a device, reading the audit log.
 */
export const apiScopeSchema = z.enum(['read-only', 'operator', 'admin']);
export type ApiScope = z.infer<typeof apiScopeSchema>;

/**
 * The actor of a request that carried no valid API token (an enrolling device, a caller refused
 * with 401). Reserved: no API token may be given this name.
 */
export const ANONYMOUS_ACTOR = 'anonymous';

/**
 * Longest request path kept in a record. A path is chosen by the caller: a bound keeps an
 * unauthenticated caller from making records arbitrarily large (the stream's byte limit would then
 * drop older records sooner). 512 leaves room for every route of the API with IDs of 64 characters.
 */
export const AUDIT_PATH_MAX_LENGTH = 512;
/** Longest path parameter value kept (an ID is at most 64 characters; longer ones are refused anyway). */
export const AUDIT_PARAM_MAX_LENGTH = 128;

/** Who made a request: the API token's configured name and scope, or `anonymous` without a scope. */
export const auditActorSchema = z.object({
  name: idSchema,
  scope: apiScopeSchema.nullable(),
});
export type AuditActor = z.infer<typeof auditActorSchema>;

/**
 * How a request ended, from its status: `accepted` (below 400), `refused` (4xx: nothing changed),
 * `failed` (5xx: the change may or may not have happened), `abandoned` (the client went away before
 * the answer; the change may or may not have happened).
 */
export const auditOutcomeSchema = z.enum(['accepted', 'refused', 'failed', 'abandoned']);
export type AuditOutcome = z.infer<typeof auditOutcomeSchema>;

/** The HTTP methods that change state: every request with one of them is recorded. */
export const auditedMethodSchema = z.enum(['POST', 'PUT', 'PATCH', 'DELETE']);
export type AuditedMethod = z.infer<typeof auditedMethodSchema>;

/**
 * One state-changing API request, accepted or refused: who, what, when. Published by the gateway
 * once the response is decided, into the AUDIT_LOG stream, with the request ID as the message ID.
 * Never holds a request or response body, nor a token: only names, IDs and outcomes.
 */
export const auditEventV1Schema = z.object({
  /** The gateway's ID of the request (also its `X-Request-Id` response header and the message ID). */
  requestId: z.string().uuid(),
  /** When the request arrived. */
  occurredAt: isoTimeSchema,
  actor: auditActorSchema,
  method: auditedMethodSchema,
  /** The route pattern that matched (`/v1/packages/:id/content`); null when none did (a 404). */
  route: z.string().max(AUDIT_PATH_MAX_LENGTH).nullable(),
  /** The path as requested, without the query string (cut at AUDIT_PATH_MAX_LENGTH). */
  path: z.string().max(AUDIT_PATH_MAX_LENGTH),
  /** The route's path parameters (`{ id: "pkg-1" }`). */
  params: z.record(z.string(), z.string().max(AUDIT_PARAM_MAX_LENGTH)),
  /** The ID of what the request created or changed, from the answer (`id`, else `deviceId`); null when it named none. */
  resourceId: z.string().max(AUDIT_PARAM_MAX_LENGTH).nullable(),
  /** The HTTP status answered; 499 when the client went away first. */
  status: z.number().int().min(100).max(599),
  outcome: auditOutcomeSchema,
  /** The error code answered (`AUTH.FORBIDDEN`, `TASKS.PACKAGE_NOT_FOUND`); null on success. */
  errorCode: z.string().max(100).nullable(),
  /** The address the request came from (a proxy's, behind one). */
  clientAddress: z.string().max(100).nullable(),
  /** The `X-Forwarded-For` header as sent: a proxy's account of the client, not checked by the gateway. */
  forwardedFor: z.string().max(AUDIT_PATH_MAX_LENGTH).nullable(),
  /** From arrival to the answer (or to the client going away). */
  durationMs: z.number().nonnegative(),
});
export type AuditEventV1 = z.infer<typeof auditEventV1Schema>;

export const AuditRecorded = {
  version: 1,
  schema: auditEventV1Schema,
  /**
   * `gateway.evt.audit.recorded.v1.<actor>`: the actor is a token, so that one actor's records can
   * be read with a server-side filter and the stream can bound each actor's share (anonymous
   * callers, who can send as much as they like, cannot push out the records of the token holders).
   */
  subject: (actor: string) => versioned(SubjectBase.auditRecorded, 1, actor),
  /** The filter of every record of every version, or of one actor's records (any version). */
  filter: (actor?: string): string => {
    if (actor === undefined) return `${SubjectBase.auditRecorded}.>`;
    if (!idSchema.safeParse(actor).success) throw new Error(`actor "${actor}" cannot be a subject token`);
    return `${SubjectBase.auditRecorded}.*.${actor}`;
  },
} as const;

// ---- reading the log (GET /v1/audit-log) ------------------------------------------------------

/** Without `since` or `after`, the log is read from this long ago: the last day's records. */
export const AUDIT_LOG_DEFAULT_WINDOW_SECONDS = 24 * 3600;

export const auditLogQuerySchema = z
  .object({
    since: isoTimeSchema.optional().describe('Records stored at or after this time (ISO 8601); default: 24 hours ago'),
    after: z.number().int().nonnegative().optional().describe("Records after this sequence number: the previous page's `nextAfter`"),
    limit: z.number().int().min(1).max(1000).default(100).describe('Records per page, oldest first'),
    actor: idSchema.optional().describe('Only the records of this API token (its name), or `anonymous`'),
  })
  .refine((query) => query.since === undefined || query.after === undefined, {
    message: 'give since or after, not both',
    path: ['after'],
  });
export type AuditLogQuery = z.output<typeof auditLogQuerySchema>;

/** A record as read back: the event and its place in the log. */
export const auditLogEntrySchema = auditEventV1Schema.extend({
  /** The record's sequence number in the log: pass the last one seen as `after` to read on. */
  seq: z.number().int().positive(),
});
export type AuditLogEntry = z.infer<typeof auditLogEntrySchema>;

export const auditLogPageSchema = z.object({
  /** Oldest first. */
  items: z.array(auditLogEntrySchema),
  /** `after` for the next page; null when this page reached the end of the log (as it stood). */
  nextAfter: z.number().int().positive().nullable(),
});
export type AuditLogPage = z.infer<typeof auditLogPageSchema>;
