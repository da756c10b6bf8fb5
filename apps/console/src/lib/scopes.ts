import type { ApiScope } from '@fleetcast/contracts';

/** What the signed-in token may do, as `GET /v1/whoami` tells it. */
export interface Session {
  token: string;
  name: string;
  scope: ApiScope;
}

/**
 * Whether the console shows write actions (upload, create a task): an `operator` or `admin` token.
 * A read-only token sees none; the gateway refuses them anyway (403), the console does not offer them.
 */
export function canWrite(scope: ApiScope): boolean {
  return scope === 'operator' || scope === 'admin';
}
