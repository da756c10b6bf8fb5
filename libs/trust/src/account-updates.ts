import type { NatsConnection } from 'nats';

/** The subject on which a server with a `full` resolver takes a new account JWT (system account only). */
export const CLAIMS_UPDATE_SUBJECT = '$SYS.REQ.CLAIMS.UPDATE';

/** A server refused an account JWT (bad signature, not the operator's, older than what it has). */
export class AccountUpdateError extends Error {
  readonly code = 'TRUST.ACCOUNT_UPDATE_REFUSED';
  constructor(message: string) {
    super(message);
    this.name = 'AccountUpdateError';
  }
}

/**
 * Pushes an account JWT to the servers' resolver over a system-account connection and waits for a
 * server to confirm it. Revocations in it take effect on that answer: the server closes the
 * connections of revoked users at once. In a cluster the resolvers pass it on to each other.
 */
export async function pushAccountJwt(systemConnection: NatsConnection, jwt: string, timeoutMs = 5000): Promise<void> {
  const reply = await systemConnection.request(CLAIMS_UPDATE_SUBJECT, new TextEncoder().encode(jwt), { timeout: timeoutMs });
  let body: { data?: { code?: number; message?: string }; error?: { code?: number; description?: string } };
  try {
    body = JSON.parse(new TextDecoder().decode(reply.data));
  } catch {
    throw new AccountUpdateError('the server answered the account update with something other than JSON');
  }
  if (body.error) throw new AccountUpdateError(`account update refused: ${body.error.description ?? JSON.stringify(body.error)}`);
  if (body.data?.code !== undefined && body.data.code !== 200) throw new AccountUpdateError(`account update refused: ${body.data.message ?? body.data.code}`);
}
