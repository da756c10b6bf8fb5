import {
  ANONYMOUS_ACTOR,
  AUDIT_PARAM_MAX_LENGTH,
  AUDIT_PATH_MAX_LENGTH,
  AuditActor,
  AuditedMethod,
  auditedMethodSchema,
  AuditEventV1,
  AuditOutcome,
} from '@fleetcast/contracts';
import type { Credential } from '../auth/api-tokens';

/**
 * Status recorded for a request whose client went away before the answer: nginx's 499 ("client
 * closed request"), as in the request log.
 */
export const CLIENT_CLOSED_REQUEST = 499;

/** Whether requests with this method are recorded: those that can change state. */
export function isAudited(method: string): method is AuditedMethod {
  return auditedMethodSchema.safeParse(method).success;
}

/** Who a credential stands for: a token's name and scope; anyone else is anonymous. */
export function actorOf(credential: Credential | undefined): AuditActor {
  return credential?.kind === 'token' ? { name: credential.token.name, scope: credential.token.scope } : { name: ANONYMOUS_ACTOR, scope: null };
}

export function outcomeOf(status: number, finished: boolean): AuditOutcome {
  if (!finished) return 'abandoned';
  if (status < 400) return 'accepted';
  return status < 500 ? 'refused' : 'failed';
}

/**
 * The ID of what an answer is about: its `id` (a package, profile, task, enrollment token), else
 * its `deviceId` (an enrollment, a retirement). Nothing else of the answer is kept: it may hold a
 * secret (a new enrollment token's).
 */
export function resourceIdOf(answer: unknown): string | null {
  if (answer === null || typeof answer !== 'object') return null;
  for (const key of ['id', 'deviceId'] as const) {
    const value = (answer as Record<string, unknown>)[key];
    if (typeof value === 'string' && value.length > 0) return value.slice(0, AUDIT_PARAM_MAX_LENGTH);
  }
  return null;
}

/** Everything the gateway knows about a finished (or abandoned) request. */
export interface RequestFacts {
  requestId: string;
  receivedAt: Date;
  durationMs: number;
  credential: Credential | undefined;
  method: AuditedMethod;
  /** `req.originalUrl`: the path and query string as requested. */
  url: string;
  route: string | undefined;
  params: Record<string, string> | undefined;
  resourceId: string | null | undefined;
  status: number;
  /** Whether the whole response was handed over; false when the client went away first. */
  finished: boolean;
  /** The code the request was refused or failed with, as noted by the guard or the interceptor. */
  errorCode: string | undefined;
  /** Maps a status to a code, for refusals that came before any code was noted (a 404, a body parser's 400). */
  codeOfStatus: (status: number) => string;
  clientAddress: string | undefined;
  forwardedFor: string | string[] | undefined;
}

/** The audit record of a request. Pure. */
export function buildAuditEvent(facts: RequestFacts): AuditEventV1 {
  const status = facts.finished ? facts.status : CLIENT_CLOSED_REQUEST;
  const outcome = outcomeOf(status, facts.finished);
  const errorCode = status >= 400 && facts.finished ? (facts.errorCode ?? facts.codeOfStatus(status)).slice(0, 100) : null;
  return {
    requestId: facts.requestId,
    occurredAt: facts.receivedAt.toISOString(),
    actor: actorOf(facts.credential),
    method: facts.method,
    route: facts.route?.slice(0, AUDIT_PATH_MAX_LENGTH) ?? null,
    // The query string stays out, as in the request log: only the path names what was acted on.
    path: facts.url.split('?')[0]!.slice(0, AUDIT_PATH_MAX_LENGTH),
    params: facts.params ?? {},
    // What an abandoned or refused request created cannot be known from its answer.
    resourceId: status < 400 ? (facts.resourceId ?? null) : null,
    status,
    outcome,
    errorCode,
    // An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d; the IPv4 form is what people search for.
    clientAddress: facts.clientAddress ? facts.clientAddress.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '').slice(0, 100) : null,
    forwardedFor: forwardedFor(facts.forwardedFor),
    durationMs: Math.max(0, Math.round(facts.durationMs * 100) / 100),
  };
}

function forwardedFor(header: string | string[] | undefined): string | null {
  const value = Array.isArray(header) ? header.join(', ') : header;
  return value ? value.slice(0, AUDIT_PATH_MAX_LENGTH) : null;
}
