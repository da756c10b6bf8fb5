import { createHash } from 'node:crypto';
import { SENDER_ID_BYTES, SESSION_ID_BYTES } from './protocol/constants';

/**
 * The IDs in every packet header, derived from the control plane's IDs so that every device computes
 * the same ones with no exchange: a device knows a task's session from its task ID, and a
 * representative recognises the target devices that joined by hashing the device IDs the control
 * plane gave it. Kept apart from `protocol/`, which stays free of Node modules.
 *
 * A domain tag per kind keeps a task and a device that share an ID string from sharing a hash.
 * These IDs name, they do not authenticate: anyone on the subnet can put any ID in a datagram, which
 * is why every block is verified against the manifest from the control plane.
 */
export function sessionIdOf(taskId: string): string {
  return truncatedSha256('fleetcast-lan-session\0' + taskId, SESSION_ID_BYTES);
}

export function senderIdOf(deviceId: string): string {
  return truncatedSha256('fleetcast-lan-sender\0' + deviceId, SENDER_ID_BYTES);
}

function truncatedSha256(input: string, bytes: number): string {
  return createHash('sha256').update(input, 'utf8').digest('hex').slice(0, bytes * 2);
}
