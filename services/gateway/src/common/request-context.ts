import type { Request } from 'express';
import { AUDIT_PARAM_MAX_LENGTH } from '@fleetcast/contracts';
import type { Credential } from '../auth/api-tokens';

/**
 * What the gateway learns about a request along the way, for its audit record: set up by the audit
 * middleware as the request arrives, filled in by the guard (who, which route) and the audit
 * interceptor (what it created, how it failed), read when the response is finished.
 */
export interface RequestContext {
  /** The gateway's own ID of the request (a UUID), sent back as `X-Request-Id`. */
  readonly requestId: string;
  readonly receivedAt: Date;
  /** `process.hrtime.bigint()` at arrival, for the duration. */
  readonly startedNs: bigint;
  /** The API token the request carried, if any; resolved once, as the request arrives. */
  credential?: Credential;
  /** The route pattern that matched; unset when none did. */
  route?: string;
  params?: Record<string, string>;
  /** The ID of what the request created or changed, from its answer. */
  resourceId?: string | null;
  /** The error code the request was refused or failed with. */
  errorCode?: string;
}

// A symbol, not a property name: nothing a client sends can set or shadow it.
const CONTEXT = Symbol('fleetcast.request-context');

type WithContext = Request & { [CONTEXT]?: RequestContext };

export function attachRequestContext(req: Request, context: RequestContext): RequestContext {
  (req as WithContext)[CONTEXT] = context;
  return context;
}

export function requestContextOf(req: Request): RequestContext | undefined {
  return (req as WithContext)[CONTEXT];
}

/** The route pattern Express matched (`/v1/packages/:id/content`). */
export function routePatternOf(req: Request): string | undefined {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? path : undefined;
}

/**
 * Notes the matched route and its path parameters. Called by the guard, the first code that runs
 * with the route matched (Express resets `req.params` once the route's handlers are done, and a
 * request refused by the guard never reaches an interceptor).
 */
export function noteRoute(context: RequestContext, req: Request): void {
  context.route ??= routePatternOf(req);
  if (context.params === undefined) {
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries((req.params ?? {}) as Record<string, unknown>)) {
      if (typeof value === 'string') params[name] = value.slice(0, AUDIT_PARAM_MAX_LENGTH);
    }
    context.params = params;
  }
}
