import { idSchema } from './common';

/**
 * Every NATS subject in Fleetcast is spelled here and nowhere else.
 * Form: `<domain>.<kind>.<entity>.<verb>.v<N>[.<deviceId>]`, kind = cmd | evt | qry.
 * Device-scoped subjects end with the device ID so that NATS permissions can be granted per device.
 * A change of message shape is a new version token, never an edit of an existing version.
 */
export const VERSION_TOKEN_INDEX = 4;

/** Builds a versioned subject: base = '<domain>.<kind>.<entity>.<verb>'. */
export function versioned(base: string, version: number, deviceId?: string): string {
  if (deviceId !== undefined && !idSchema.safeParse(deviceId).success) {
    throw new Error(`device ID "${deviceId}" cannot be a subject token`);
  }
  return deviceId === undefined ? `${base}.v${version}` : `${base}.v${version}.${deviceId}`;
}

/** Splits a received subject into its base, version and optional device token. */
export function parseSubject(subject: string): { base: string; version: number | null; deviceId?: string } {
  const tokens = subject.split('.');
  const base = tokens.slice(0, VERSION_TOKEN_INDEX).join('.');
  const match = /^v(\d+)$/.exec(tokens[VERSION_TOKEN_INDEX] ?? '');
  const version = match ? Number(match[1]) : null;
  const deviceId = tokens[VERSION_TOKEN_INDEX + 1];
  return deviceId === undefined ? { base, version } : { base, version, deviceId };
}

/**
 * The inbox prefix of a device's connection: replies to its requests come under it, and its
 * permissions allow no other, so no device can read another's replies (a task's LAN key travels in
 * one). Services keep the default `_INBOX.<nuid>`, whose second token is never `device`.
 */
export function deviceInboxPrefix(deviceId: string): string {
  return `_INBOX.device.${deviceId}`;
}

/**
 * What every command to one device from the tasks service starts with (`SubjectBase.taskAssigned`,
 * `SubjectBase.taskCancel`): the TASK_ASSIGNMENTS stream keeps everything under it.
 */
export const DEVICE_COMMANDS_PREFIX = 'tasks.cmd.device';

/**
 * Every command to one device (assignments, cancellations), every version: what an agent subscribes
 * to and replays, through one consumer, so that a cancellation is always seen after the assignment
 * it cancels. A device's permissions allow this filter for its own ID only.
 */
export function deviceCommandsFilter(deviceId: string): string {
  if (!idSchema.safeParse(deviceId).success) throw new Error(`device ID "${deviceId}" cannot be a subject token`);
  return `${DEVICE_COMMANDS_PREFIX}.*.*.${deviceId}`;
}

/** Subject bases (without version). */
export const SubjectBase = {
  inventoryScanSubmitted: 'inventory.evt.scan.submitted',
  taskAssigned: 'tasks.cmd.device.assign',
  /** A signed cancellation of a task for one device; the last token names the device. In TASK_ASSIGNMENTS. */
  taskCancel: 'tasks.cmd.device.cancel',
  deviceStatusReported: 'tasks.evt.device-status.reported',
  settingsChanged: 'tasks.evt.settings.changed',
  deadLettered: 'system.evt.message.dead-lettered',
  licenseOverage: 'licensing.evt.license.overage',
  licenseExpiring: 'licensing.evt.license.expiring',
  deviceEnrolled: 'licensing.evt.device.enrolled',
  deviceRetired: 'licensing.evt.device.retired',
  /** An activation put the fleet's configuration into force. Through the licensing outbox. */
  activationCompleted: 'licensing.evt.activation.completed',
  /** Every target of a task reached a final state (succeeded or failed). Through the tasks outbox. */
  taskCompleted: 'tasks.evt.task.completed',
  /** A target of a task failed (a final state, with its reason). Through the tasks outbox. */
  deviceTaskFailed: 'tasks.evt.device-task.failed',
  /** A task's status or counts changed (live updates, core NATS only); the last token names the task. */
  taskChanged: 'tasks.evt.task.changed',
  /** A target's state or bytes changed in a task (live updates, core NATS only); the last token names the task. */
  deviceTaskChanged: 'tasks.evt.device-task.changed',
  /** The gateway's audit record of a state-changing API request; the last token names the actor. */
  auditRecorded: 'gateway.evt.audit.recorded',
  /** A new topology version was stored (one subject for the fleet). */
  topologyChanged: 'topology.evt.topology.changed',
  /** A device's office changed; the last token names the device. */
  devicePlaced: 'topology.evt.device.placed',
} as const;
