import { z } from 'zod';
import { bytesBySourceSchema, idSchema, isoTimeSchema } from './common';
import { agentSettingsSchema } from './settings';
import { MAX_WAN_BANDWIDTH_KBPS, officeTypeSchema } from './topology-document';
import { taskTargetsSchema } from './rpc/tasks.rpc';

// ---- what-if planner (POST /v1/plans) ---------------------------------------------------------

/** The figures the model takes as given; each is documented in `@fleetcast/planning`. */
export const planAssumptionsSchema = z.object({
  /** Wire bytes per package byte over TCP (1514-byte frames carrying 1448 bytes). */
  wireOverhead: z.number().positive(),
  /** Seconds from a task's creation until devices begin to download (assignment, manifest, token). */
  startupSeconds: z.number().nonnegative(),
  /** Seconds until every online target of a subnet joined its LAN session (the session then starts before its delay). */
  joinSeconds: z.number().nonnegative(),
  /** Seconds after the last byte until a device reports its verified copy. */
  finishSeconds: z.number().nonnegative(),
  /** What the origin serves in all, kbit/s. */
  originKbps: z.number().positive(),
  /** What a LAN carries (the central office's devices, a multicast without a rate limit), kbit/s. */
  lanKbps: z.number().positive(),
  /** WAN bandwidth of a subnet's own link when there is no topology, kbit/s. */
  defaultWanKbps: z.number().positive(),
  /** LAN bytes sent per package byte in a multicast session: headers, parity and repairs. */
  lanOverhead: z.number().positive(),
  /** What a multicast session sustains on the LAN (kbit/s of LAN bytes), the receivers' processing bounding it. */
  multicastKbps: z.number().positive(),
  /** Seconds a multicast session takes after the representative's last WAN byte: last blocks, repairs, close. */
  sessionCloseSeconds: z.number().nonnegative(),
});
export type PlanAssumptions = z.infer<typeof planAssumptionsSchema>;

/**
 * A what-if question: this package, these targets (the forms a task takes), these settings. The
 * settings are the task's profile (`profileId`, else the default profile) with `settings` laid over
 * it, as a task would run them.
 */
export const planRequestSchema = z
  .object({
    packageId: idSchema,
    targets: taskTargetsSchema,
    profileId: idSchema.optional(),
    /** Settings that differ from the profile's for this estimate (e.g. `{ "useMulticast": false }`). */
    settings: agentSettingsSchema.pick({ useMulticast: true, sessionStartDelaySeconds: true, peerDownloadAllowed: true, lanRateLimitKbps: true }).partial().strict().optional(),
    /**
     * The WAN bandwidth of every subnet's link when no topology is uploaded (each subnet then stands
     * alone behind a link of its own); absent: the gateway's PLAN_DEFAULT_WAN_KBPS.
     */
    defaultWanBandwidthKbps: z.number().int().min(1).max(MAX_WAN_BANDWIDTH_KBPS).optional(),
    /** Figures of the model to replace (e.g. `multicastKbps` measured on the fleet's own devices); the answer shows all it used. */
    assumptions: planAssumptionsSchema.partial().strict().optional(),
  })
  .strict();
export type PlanRequest = z.input<typeof planRequestSchema>;

/** One way of distributing, estimated. */
export const planEstimateSchema = z.object({
  /** Bytes through the WAN toward these devices, Ethernet, IP and TCP headers included (what a link counter shows). */
  wanBytes: z.number().int().nonnegative(),
  /** Package bytes the origin serves them (what its own count shows). */
  originBytes: z.number().int().nonnegative(),
  /** From the task's creation until the last of these devices holds a verified copy. */
  seconds: z.number().nonnegative(),
});
export type PlanEstimate = z.infer<typeof planEstimateSchema>;

/** Why a subnet's devices cannot share the package on their LAN, as a stable code. */
export const planNoSharingCodeSchema = z.enum(['profile-disables-multicast', 'office-type', 'no-subnet']);
export type PlanNoSharingCode = z.infer<typeof planNoSharingCodeSchema>;

export const planSubnetSchema = z.object({
  /** The subnet as the inventory derives it; null for devices without one (each is on its own). */
  subnet: z.string().nullable(),
  /** The office the subnet lies in; null without a topology. */
  officeId: idSchema.nullable(),
  devices: z.number().int().nonnegative(),
  /** `multicast`: one WAN copy, spread on the LAN; `none`: every device downloads from the origin. */
  sharing: z.enum(['multicast', 'none']),
  noSharing: z.object({ code: planNoSharingCodeSchema, message: z.string() }).nullable(),
  /** With multicast and peers where the settings and the office allow them. */
  withSharing: planEstimateSchema.extend({ sessionStartSeconds: z.number().nonnegative().nullable() }),
  /** Every device downloads from the origin. */
  withoutSharing: planEstimateSchema,
});
export type PlanSubnet = z.infer<typeof planSubnetSchema>;

export const planOfficeSchema = z.object({
  id: idSchema,
  name: z.string(),
  type: officeTypeSchema,
  parent: idSchema.nullable(),
  /** Its link to the parent; null for the central office. */
  wanBandwidthKbps: z.number().int().positive().nullable(),
  /** Targets in the office itself (not its branches). */
  devices: z.number().int().nonnegative(),
  subnets: z.number().int().nonnegative(),
  /** `wanBytes`: toward the office's own devices; `linkBytes`: through its link to the parent (its branches' too). */
  withSharing: planEstimateSchema.extend({ linkBytes: z.number().int().nonnegative() }),
  withoutSharing: planEstimateSchema.extend({ linkBytes: z.number().int().nonnegative() }),
});
export type PlanOffice = z.infer<typeof planOfficeSchema>;


export const planSchema = z.object({
  packageId: idSchema,
  packageBytes: z.number().int().nonnegative(),
  /** Targets planned for (known, not excluded). */
  devices: z.number().int().nonnegative(),
  /** Targets that would get no assignment (an unsupported agent version), by device ID. */
  excluded: z.array(z.object({ deviceId: idSchema, code: z.string(), message: z.string() })),
  /** The settings the estimate used: the profile's with the request's `settings` over them. */
  settings: agentSettingsSchema.pick({ useMulticast: true, sessionStartDelaySeconds: true, peerDownloadAllowed: true, lanRateLimitKbps: true }).extend({ profileId: idSchema }),
  /** The topology version the offices and links came from; null: none uploaded, subnets stand alone behind `assumptions.defaultWanKbps`. */
  topologyVersion: z.number().int().positive().nullable(),
  withSharing: planEstimateSchema,
  withoutSharing: planEstimateSchema,
  /** `withoutSharing.wanBytes - withSharing.wanBytes`. */
  savedWanBytes: z.number().int(),
  subnets: z.array(planSubnetSchema),
  offices: z.array(planOfficeSchema),
  assumptions: planAssumptionsSchema,
});
export type Plan = z.infer<typeof planSchema>;

// ---- WAN savings report (GET /v1/reports/wan-savings) -------------------------------------------

/** Most days one report spans: a year of hourly buckets per subnet stays one query of an index range. */
export const MAX_REPORT_DAYS = 366;

export const wanSavingsQuerySchema = z
  .object({
    /** Start of the range (inclusive), rounded down to the hour the figures are kept by. */
    from: isoTimeSchema,
    /** End of the range (exclusive). */
    to: isoTimeSchema,
    groupBy: z.enum(['subnet', 'office']).default('subnet'),
  })
  .refine((q) => Date.parse(q.from) < Date.parse(q.to), { message: 'from must be before to', path: ['to'] })
  .refine((q) => Date.parse(q.to) - Date.parse(q.from) <= MAX_REPORT_DAYS * 86_400_000, { message: `a report spans at most ${MAX_REPORT_DAYS} days`, path: ['to'] });
export type WanSavingsQuery = z.infer<typeof wanSavingsQuerySchema>;

/** Bytes delivered to one subnet or office in the range, by source, and what the LAN saved the WAN. */
export const wanSavingsRowSchema = z.object({
  /** The subnet's CIDR or the office's ID; null: devices without a subnet (or in no office). */
  key: z.string().nullable(),
  /** The office's name (groupBy=office), else null. */
  name: z.string().nullable(),
  bytes: bytesBySourceSchema,
  /** Delivered from multicast and peers: what did not cross the WAN. */
  savedBytes: z.number().int().nonnegative(),
  /** savedBytes / all bytes delivered; 0 when nothing was. */
  savedRatio: z.number().min(0).max(1),
});
export type WanSavingsRow = z.infer<typeof wanSavingsRowSchema>;

export const wanSavingsReportSchema = z.object({
  from: isoTimeSchema,
  to: isoTimeSchema,
  groupBy: z.enum(['subnet', 'office']),
  /** Most saved first. */
  items: z.array(wanSavingsRowSchema),
  totals: wanSavingsRowSchema.omit({ key: true, name: true }),
  /** The topology version offices came from (groupBy=office), else null. */
  topologyVersion: z.number().int().positive().nullable(),
});
export type WanSavingsReport = z.infer<typeof wanSavingsReportSchema>;
