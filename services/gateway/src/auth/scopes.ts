import { ApiScope, apiScopeSchema, ErrorCode } from '@fleetcast/contracts';
import type { Credential } from './api-tokens';

/** Methods that only read: read-only by default. Every other method changes something: operator by default. */
const READING_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether a token of scope `granted` may use a route that needs `required` (each scope includes the ones below it). */
export function scopeCovers(granted: ApiScope, required: ApiScope): boolean {
  return apiScopeSchema.options.indexOf(granted) >= apiScopeSchema.options.indexOf(required);
}

/** The scope a route needs: what its controller declares (`@RequiresScope`), else by method. */
export function requiredScope(method: string, declared: ApiScope | undefined): ApiScope {
  return declared ?? (READING_METHODS.has(method.toUpperCase()) ? 'read-only' : 'operator');
}

export interface AccessRequest {
  credential: Credential;
  method: string;
  /** The route pattern, for the message (`/v1/packages/:id/content`). */
  route: string;
  /** The scope the controller declares for the route, if it declares one. */
  declared?: ApiScope;
  /** A route that takes no API token (probes, enrollment). */
  open: boolean;
  /** AUTH_DISABLED: every request passes. */
  authDisabled: boolean;
}

export type AccessDecision =
  | { allowed: true }
  | { allowed: false; code: typeof ErrorCode.Unauthorized; message: string }
  | { allowed: false; code: typeof ErrorCode.Forbidden; message: string; needed: ApiScope };

/** Whether a request may go on; a refusal says what was missing, naming the scope needed on a 403. */
export function decideAccess(request: AccessRequest): AccessDecision {
  if (request.open || request.authDisabled) return { allowed: true };
  const { credential } = request;
  if (credential.kind === 'none') return { allowed: false, code: ErrorCode.Unauthorized, message: 'missing API token: send Authorization: Bearer <token>' };
  if (credential.kind === 'invalid') return { allowed: false, code: ErrorCode.Unauthorized, message: 'invalid API token' };
  const needed = requiredScope(request.method, request.declared);
  if (scopeCovers(credential.token.scope, needed)) return { allowed: true };
  return {
    allowed: false,
    code: ErrorCode.Forbidden,
    needed,
    message: `${request.method.toUpperCase()} ${request.route} needs an API token with the ${needed} scope; "${credential.token.name}" has ${credential.token.scope}`,
  };
}
