import { z } from 'zod';
import { bytesBySourceSchema, idSchema, isoTimeSchema } from '../common';
import { SubjectBase, versioned } from '../subjects';

/**
 * Per-device task states. `pending` is the control plane's own (issued, not yet acknowledged);
 * every other state is reported by the agent. `cancelled` is set by the control plane when the task
 * is cancelled (for every target not yet in a final state) and confirmed by the agent once it has
 * stopped; an added value: agents older than it never report it.
 */
export const deviceTaskStateSchema = z.enum(['pending', 'queued', 'downloading', 'cached', 'installing', 'succeeded', 'failed', 'cancelled']);
export type DeviceTaskState = z.infer<typeof deviceTaskStateSchema>;
export const DEVICE_TASK_STATES = deviceTaskStateSchema.options;
export const reportedStateSchema = deviceTaskStateSchema.exclude(['pending']);
export const TERMINAL_STATES: readonly DeviceTaskState[] = ['succeeded', 'failed', 'cancelled'];

/** Largest tail of install output kept with a report: enough for an error, small enough for a message. */
export const OUTPUT_TAIL_MAX_CHARS = 4096;

/**
 * Largest report `seq`: 2^31 - 1, the largest Postgres `integer`, the column the tasks service keeps
 * it in. A larger one would pass the schema only to fail its batch's SQL on every delivery; bounded
 * here, it is refused at once as invalid (and dead-lettered). An agent counts 1, 2, 3 ... per task:
 * at one report a second it would take 68 years to get there.
 */
export const REPORT_SEQ_MAX = 2 ** 31 - 1;

/**
 * A state change of one device for one task. `seq` grows with every report of that device and
 * task, so a redelivered or reordered report changes nothing twice; byte counts are running totals.
 */
export const deviceStatusV1Schema = z.object({
  taskId: idSchema,
  deviceId: idSchema,
  seq: z.number().int().positive().max(REPORT_SEQ_MAX),
  state: reportedStateSchema,
  reportedAt: isoTimeSchema,
  bytes: bytesBySourceSchema,
  reason: z.object({ code: z.string().max(100), message: z.string().max(2000) }).nullable(),
  hashVerified: z.boolean(),
  exitCode: z.number().int().nullable(),
  outputTail: z.string().max(OUTPUT_TAIL_MAX_CHARS).nullable(),
});
export type DeviceStatusV1 = z.infer<typeof deviceStatusV1Schema>;

export const DeviceStatusReported = {
  version: 1,
  schema: deviceStatusV1Schema,
  subject: (deviceId: string) => versioned(SubjectBase.deviceStatusReported, 1, deviceId),
} as const;

/** Why a device's LAN session fell short; the status report says so, the task summary counts it per subnet. */
export const LanIssueCode = {
  /**
   * This device represented the subnet and none of the task's other target devices there joined
   * within the session start delay: multicast is blocked on the subnet (a switch or firewall drops
   * it), or the devices are offline. Each device then downloads from the origin.
   */
  NobodyJoined: 'LAN.NOBODY_JOINED',
  /** The session closed short, or its representative was lost with no successor: the rest came from peers, then the origin. */
  SessionIncomplete: 'LAN.SESSION_INCOMPLETE',
  /** A device of weight 0 heard no representative: it downloaded from the origin. */
  NoRepresentative: 'LAN.NO_REPRESENTATIVE',
  /** The device could not take part at all (no LAN session from the control plane, no multicast socket): the origin. */
  MulticastUnavailable: 'LAN.MULTICAST_UNAVAILABLE',
  /**
   * The session passed its deadline for this device: the representative delivered no verified block
   * in time, or no representative settled (claims that never led anywhere). The message names the
   * representative's device when the control plane listed it; the rest came from peers, then the origin.
   */
  SessionDeadline: 'LAN.SESSION_DEADLINE',
  /** The device's office type rules the session out (`vpn`, `wifi`: no multicast); it downloaded without one. */
  OfficePolicy: 'LAN.OFFICE_POLICY',
} as const;
export type LanIssueCode = (typeof LanIssueCode)[keyof typeof LanIssueCode];

export const lanIssueSchema = z.object({
  code: z.string().min(1).max(64),
  message: z.string().max(500),
});
export type LanIssue = z.infer<typeof lanIssueSchema>;

/** A device's part in its subnet's LAN session for a task (running totals, like the byte counts). */
export const lanActivitySchema = z.object({
  role: z.enum(['representative', 'receiver', 'none']),
  /** When this device, as representative, started multicasting; null otherwise. */
  sessionStartedAt: isoTimeSchema.nullable(),
  /** Bytes this device sent on the LAN (multicast data and parity, and blocks served to peers). */
  lanBytesSent: z.number().int().nonnegative(),
  /** Repair symbols this device sent (representative) or blocks it fetched in repair (receiver). */
  repairs: z.number().int().nonnegative(),
  /** LAN packets dropped as invalid or forged. */
  invalidPackets: z.number().int().nonnegative(),
  /**
   * Why the session fell short for this device; null when it did not. Optional: an added field that
   * reports of older agents lack and older consumers ignore, so version 2 keeps its subject.
   */
  issue: lanIssueSchema.nullable().optional(),
});
export type LanActivity = z.infer<typeof lanActivitySchema>;

/** Version 2 adds the device's LAN activity, for the per-subnet summary of a multicast session. */
export const deviceStatusV2Schema = deviceStatusV1Schema.extend({ lan: lanActivitySchema.nullable() });
export type DeviceStatusV2 = z.infer<typeof deviceStatusV2Schema>;

export const DeviceStatusReportedV2 = {
  version: 2,
  schema: deviceStatusV2Schema,
  subject: (deviceId: string) => versioned(SubjectBase.deviceStatusReported, 2, deviceId),
} as const;

/** Reads either version as the newest shape (a version 1 report has no LAN activity). */
export function upgradeDeviceStatus(report: DeviceStatusV1 | DeviceStatusV2): DeviceStatusV2 {
  return 'lan' in report ? report : { ...report, lan: null };
}
