import { deviceCommandsFilter, TaskAssigned } from '@fleetcast/contracts';

/**
 * Which filter the agent subscribes to and replays: every command to the device (assignments and
 * cancellations) when its NATS user may subscribe to it, else its assignments only. A device
 * enrolled before cancellations existed holds a user JWT that allows only the latter: subscribing
 * to the wider filter would be refused by the server and take the assignments down with it. Such a
 * device keeps running its tasks and gets cancellations once it is enrolled again.
 * `userJwt`: the device's NATS user JWT, or null (no credentials: an open server allows everything).
 * Pure: nothing is verified here (the server does that); the claims are only read.
 */
export function commandsFilterFor(userJwt: string | null, deviceId: string): { filter: string; cancellations: boolean } {
  const all = { filter: deviceCommandsFilter(deviceId), cancellations: true };
  if (userJwt === null) return all;
  const allow = subscribeAllowList(userJwt);
  // No list (unreadable claims, or none: no limit): the wider filter, as before the claims were read.
  if (allow === null || allow.length === 0 || allow.includes(all.filter) || allow.includes('>')) return all;
  return { filter: TaskAssigned.deviceFilter(deviceId), cancellations: false };
}

/** The `nats.sub.allow` list of a NATS user JWT's claims; null when the JWT cannot be read. */
export function subscribeAllowList(jwt: string): string[] | null {
  const payload = jwt.split('.')[1];
  if (payload === undefined) return null;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { nats?: { sub?: { allow?: unknown } } };
    const allow = claims.nats?.sub?.allow;
    if (allow === undefined) return [];
    return Array.isArray(allow) && allow.every((s) => typeof s === 'string') ? allow : null;
  } catch {
    return null;
  }
}

/** The user JWT in a NATS creds file's text (the block between its JWT markers); null when there is none. */
export function jwtOfCreds(text: string): string | null {
  return /-{3,}BEGIN NATS USER JWT-{3,}\s*\n\s*(\S+)\s*\n\s*-{3,}END NATS USER JWT-{3,}/.exec(text)?.[1] ?? null;
}
