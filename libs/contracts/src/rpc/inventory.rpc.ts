import { z } from 'zod';
import { idSchema, platformSchema, sha256HexSchema } from '../common';
import { networkInterfaceSchema } from '../messages/inventory-scan';
import { defineRpc, paginationSchema } from './define';

/** Selects devices: every given field must match. */
export const deviceQuerySchema = z.object({
  platform: platformSchema.optional(),
  /** An IPv4 or IPv6 subnet in CIDR form, as the inventory derives it ("10.1.2.0/24"). */
  subnet: z.string().max(64).optional(),
  hostnamePrefix: z.string().max(255).optional(),
  includeStale: z.boolean().default(false),
});
export type DeviceQuery = z.input<typeof deviceQuerySchema>;

/**
 * Whether the control plane distributes to a device, judged from the agent version of its latest
 * scan against the range the inventory supports (its SUPPORTED_AGENT_VERSIONS setting).
 * `unsupported-version`: the version is outside that range, or is not a semantic version at all;
 * the device gets no assignments until its agent is replaced by a supported one.
 */
export const agentVersionStateSchema = z.enum(['supported', 'unsupported-version']);
export type AgentVersionState = z.infer<typeof agentVersionStateSchema>;

export const agentVersionStatusSchema = z.object({
  state: agentVersionStateSchema,
  /** Why the agent is not supported, naming its version and the supported range; null when it is supported. */
  reason: z.string().nullable(),
});
export type AgentVersionStatus = z.infer<typeof agentVersionStatusSchema>;

export const deviceSchema = z.object({
  id: idSchema,
  hostname: z.string(),
  platform: platformSchema,
  osVersion: z.string(),
  agentVersion: z.string(),
  interfaces: z.array(networkInterfaceSchema),
  subnets: z.array(z.string()),
  cachedContentIds: z.array(sha256HexSchema),
  cacheFreeBytes: z.number().int(),
  lastSeenAt: z.string(),
  stale: z.boolean(),
  /**
   * Whether the device's agent version is supported. Optional: an added field, absent from the
   * replies of an inventory that predates it, so the subject keeps its version.
   */
  versionStatus: agentVersionStatusSchema.optional(),
});
export type Device = z.infer<typeof deviceSchema>;

export const subnetSchema = z.object({
  cidr: z.string(),
  family: z.enum(['ipv4', 'ipv6']),
  deviceCount: z.number().int(),
  staleCount: z.number().int(),
});
export type Subnet = z.infer<typeof subnetSchema>;

/**
 * Why a resolved target must be sent no assignment: a stable code (`AGENT.UNSUPPORTED_VERSION`) and
 * a message that names the cause. The tasks service records such a target as `failed` with it.
 */
export const targetExclusionSchema = z.object({ code: z.string(), message: z.string() });
export type TargetExclusion = z.infer<typeof targetExclusionSchema>;

/**
 * Devices of a target set with the subnet each belongs to (its primary IPv4 subnet, else IPv6).
 * A device kept out of distribution is still listed, with `excluded` saying why, and is left out
 * of `bySubnet` (it takes no part in its subnet's LAN session).
 */
export const resolvedTargetsSchema = z.object({
  devices: z.array(
    z.object({
      deviceId: idSchema,
      subnet: z.string().nullable(),
      known: z.boolean(),
      /**
       * Present only when the device must get no assignment. Optional: an added field, absent from
       * the replies of an inventory that predates it (which excludes nothing).
       */
      excluded: targetExclusionSchema.optional(),
    }),
  ),
  bySubnet: z.array(z.object({ subnet: z.string(), deviceIds: z.array(idSchema) })),
});
export type ResolvedTargets = z.infer<typeof resolvedTargetsSchema>;

/**
 * Most devices one page of target resolution carries: with IDs up to 128 characters a page stays
 * well inside NATS's 1 MiB payload, whatever the fleet's size (100,000 devices are 50 pages).
 */
export const RESOLVE_PAGE_DEVICES = 2_000;

/**
 * One page of a target set: either explicit device IDs (at most a page of them; the caller splits a
 * longer list) or a query, read in device ID order after `after`. `next` is the `after` of the next
 * page, null on the last.
 */
export const resolveTargetsPageRequestSchema = z
  .object({
    deviceIds: z.array(idSchema).min(1).max(RESOLVE_PAGE_DEVICES).optional(),
    query: deviceQuerySchema.optional(),
    after: idSchema.optional(),
    limit: z.number().int().min(1).max(RESOLVE_PAGE_DEVICES).default(RESOLVE_PAGE_DEVICES),
  })
  .refine((r) => (r.deviceIds === undefined) !== (r.query === undefined), { message: 'give either deviceIds or query, not both', path: ['query'] })
  .refine((r) => r.after === undefined || r.query !== undefined, { message: 'after pages a query only', path: ['after'] });
export const resolvedTargetsPageSchema = z.object({
  devices: resolvedTargetsSchema.shape.devices,
  next: idSchema.nullable(),
});
export type ResolvedTargetsPage = z.infer<typeof resolvedTargetsPageSchema>;

/** Most devices one addresses request names: a LAN session's peers, not a fleet. */
export const MAX_ADDRESS_REQUEST_DEVICES = 1000;

/** Each named device's address on a subnet, where its peers reach its block server; devices without one are absent. */
export const deviceAddressesSchema = z.object({ items: z.array(z.object({ deviceId: idSchema, address: z.string() })) });
export type DeviceAddresses = z.infer<typeof deviceAddressesSchema>;

export const InventoryRpc = {
  getDevice: defineRpc('inventory.qry.device.get.v1', z.object({ id: idSchema }), deviceSchema),
  listDevices: defineRpc(
    'inventory.qry.device.list.v1',
    paginationSchema.extend({
      platform: platformSchema.optional(),
      subnet: z.string().max(64).optional(),
      stale: z.boolean().optional(),
      /** Only devices in this agent version state (`unsupported-version`: those kept out of distribution). */
      versionState: agentVersionStateSchema.optional(),
    }),
    z.object({ items: z.array(deviceSchema), total: z.number().int() }),
  ),
  /**
   * Subnets in address order, a page at a time like the task list (`limit` 100 and `offset` 0 when
   * absent, so a caller that sends `{}` gets the first page). `total` is an added field (an older
   * inventory's reply has none, and listed every subnet).
   */
  listSubnets: defineRpc('inventory.qry.subnet.list.v1', paginationSchema, z.object({ items: z.array(subnetSchema), total: z.number().int().optional() })),
  /** Resolves explicit device IDs and/or a query into devices grouped by subnet. */
  resolveTargets: defineRpc(
    'inventory.qry.device.resolve.v1',
    z.object({ deviceIds: z.array(idSchema).max(100_000).optional(), query: deviceQuerySchema.optional() }),
    resolvedTargetsSchema,
  ),
  /** A target set a page at a time (see `resolveTargetsPageRequestSchema`): for tasks of any size. */
  resolveTargetsPage: defineRpc('inventory.qry.device.resolve.v2', resolveTargetsPageRequestSchema, resolvedTargetsPageSchema),
  deviceAddresses: defineRpc(
    'inventory.qry.device.addresses.v1',
    z.object({ deviceIds: z.array(idSchema).max(MAX_ADDRESS_REQUEST_DEVICES), subnet: z.string().max(64) }),
    deviceAddressesSchema,
  ),
} as const;
