import { z } from 'zod';
import { idSchema } from '../common';
import {
  MAX_ORIGIN_ADDRESSES,
  MAX_WAN_BANDWIDTH_KBPS,
  officePolicySchema,
  officeRefSchema,
  officeSchema,
  topologyDocumentSchema,
  topologyProblemSchema,
  topologyVersionSchema,
} from '../topology-document';
import { defineDeviceRpc, defineRpc, paginationSchema } from './define';

/**
 * A document to check or store. It is taken as it came (`unknown`) so that the topology service's
 * validation names every problem, shape ones included, with its JSON pointer; the gateway documents
 * it with `topologyDocumentSchema`.
 */
const documentField = z.unknown().refine((value) => value !== undefined, 'give the topology document');

/** The outcome of a validation: valid with no problems, or every problem found. */
export const topologyValidationSchema = z.object({ valid: z.boolean(), problems: z.array(topologyProblemSchema) });
export type TopologyValidation = z.infer<typeof topologyValidationSchema>;

export const uploadTopologySchema = z.object({
  document: documentField,
  /** Who makes the change: the API token's name, as the audit log records it. */
  author: z.string().min(1).max(200),
  comment: z.string().max(1000).optional(),
  /**
   * The version the change was made against (optimistic concurrency): refused with
   * TOPOLOGY.VERSION_CONFLICT when another version was stored since; 0 = "no topology yet".
   */
  baseVersion: z.number().int().nonnegative().optional(),
});
export type UploadTopology = z.input<typeof uploadTopologySchema>;

export const storedTopologySchema = z.object({ version: topologyVersionSchema, document: topologyDocumentSchema });
export type StoredTopology = z.infer<typeof storedTopologySchema>;

/** A note on a generated draft for the reviewing administrator, pointing into the draft. */
export const draftNoteSchema = z.object({ path: z.string(), message: z.string() });

/**
 * A topology generated from the inventory, for review: not stored, not active. `problems` is the
 * validation of the draft as it stands (an origin address outside the chosen central office, say).
 */
export const topologyDraftSchema = z.object({
  document: topologyDocumentSchema,
  notes: z.array(draftNoteSchema),
  problems: z.array(topologyProblemSchema),
  /** Devices the draft was made from, and those without any usable address (left out). */
  devicesSeen: z.number().int().nonnegative(),
  devicesWithoutAddress: z.number().int().nonnegative(),
});
export type TopologyDraft = z.infer<typeof topologyDraftSchema>;

export const generateDraftSchema = z.object({
  /** The origin's addresses (the draft's `origin`): the office that holds the first becomes the central office. */
  originAddresses: z.array(z.string().ip()).min(1).max(MAX_ORIGIN_ADDRESSES),
  /** The WAN bandwidth written on every branch's link, to be reviewed (10 Mbit/s when absent). */
  branchBandwidthKbps: z.number().int().min(1).max(MAX_WAN_BANDWIDTH_KBPS).default(10_000),
});

/** Where a device stands in the current topology. */
export const devicePlacementSchema = z.object({
  deviceId: idSchema,
  office: officeRefSchema,
  /** False: in the default office because no office's subnets hold any of its addresses. */
  placed: z.boolean(),
  /** The address that placed it; null when unplaced. */
  address: z.string().nullable(),
  /** Every usable address of its latest scan. */
  addresses: z.array(z.string()),
  topologyVersion: z.number().int().positive(),
  updatedAt: z.string(),
});
export type DevicePlacement = z.infer<typeof devicePlacementSchema>;

export const deviceOfficeSchema = devicePlacementSchema.extend({
  /** The office's ancestors: its parent first, the central office last; empty for the central office. */
  parents: z.array(officeRefSchema),
});
export type DeviceOffice = z.infer<typeof deviceOfficeSchema>;

/** Most peers one answer names: a LAN session's peers (see MAX_ADDRESS_REQUEST_DEVICES), not an office. */
export const MAX_TOPOLOGY_PEERS = 1000;

export const devicePeersSchema = z.object({
  deviceId: idSchema,
  office: officeRefSchema,
  policy: officePolicySchema,
  /** Why the device shares with nobody (a vpn office, an unplaced device); null when it may share. */
  noSharingReason: z.string().nullable(),
  /** Other placed devices of its office, by device ID, with the address that placed them. */
  peers: z.array(z.object({ deviceId: idSchema, address: z.string() })),
  /** Peers in all (the list stops at the limit asked). */
  total: z.number().int().nonnegative(),
});
export type DevicePeers = z.infer<typeof devicePeersSchema>;

export const wanLinkOnPathSchema = z.object({
  /** The office the link leaves (the child). */
  from: idSchema,
  /** Its parent, one step closer to the origin. */
  to: idSchema,
  bandwidthKbps: z.number().int().positive(),
});

export const wanPathSchema = z.object({
  deviceId: idSchema,
  office: officeRefSchema,
  /** The origin: in the central office. */
  origin: z.object({ officeId: idSchema, addresses: z.array(z.string()) }),
  /** The links from the device's office to the central office, in that order; empty in the central office. */
  links: z.array(wanLinkOnPathSchema),
  /** The slowest link on the way; null in the central office. */
  bottleneckKbps: z.number().int().positive().nullable(),
});
export type WanPath = z.infer<typeof wanPathSchema>;

/** What an agent needs of its office: the policy of its office's type and its WAN figures. */
export const deviceOfficePolicySchema = z.object({
  deviceId: idSchema,
  topologyVersion: z.number().int().positive(),
  office: officeRefSchema,
  placed: z.boolean(),
  policy: officePolicySchema,
  /** Its office's link to the parent; null in the central office. */
  wanBandwidthKbps: z.number().int().positive().nullable(),
  /** The slowest link between its office and the origin; null in the central office. */
  bottleneckKbps: z.number().int().positive().nullable(),
  /** Its office's link's rate cap for the fleet's downloads (`wan.rateCapKbps`); null or absent: none. */
  wanRateCapKbps: z.number().int().positive().nullable().optional(),
});
export type DeviceOfficePolicy = z.infer<typeof deviceOfficePolicySchema>;

/** An office of the current topology as the office list gives it. */
export const officeListItemSchema = officeSchema.extend({
  /** Devices placed in it (unplaced ones in the default office included). */
  deviceCount: z.number().int().nonnegative(),
});
export type OfficeListItem = z.infer<typeof officeListItemSchema>;

export const officeListSchema = z.object({
  items: z.array(officeListItemSchema),
  total: z.number().int().nonnegative(),
  topologyVersion: z.number().int().positive(),
});
export type OfficeList = z.infer<typeof officeListSchema>;

const deviceQuery = z.object({ deviceId: idSchema });

export const TopologyRpc = {
  /** Validates and stores a document as the next version, atomically; a rejected one (TOPOLOGY.INVALID, with every problem) changes nothing. */
  upload: defineRpc('topology.cmd.topology.upload.v1', uploadTopologySchema, topologyVersionSchema),
  /** Validates without storing. */
  validate: defineRpc('topology.qry.topology.validate.v1', z.object({ document: documentField }), topologyValidationSchema),
  /** The current version (or the one asked for) with its document. */
  get: defineRpc('topology.qry.topology.get.v1', z.object({ version: z.number().int().positive().optional() }), storedTopologySchema),
  /** Versions, newest first. */
  listVersions: defineRpc(
    'topology.qry.version.list.v1',
    paginationSchema,
    z.object({ items: z.array(topologyVersionSchema), total: z.number().int() }),
  ),
  /** A draft from the inventory's devices, grouped by gateway, else one office per subnet; not stored. */
  generateDraft: defineRpc('topology.qry.draft.generate.v1', generateDraftSchema, topologyDraftSchema),
  /** Devices in no office's subnets (put in the default office), by device ID. */
  listUnplaced: defineRpc(
    'topology.qry.device.unplaced.v1',
    paginationSchema,
    z.object({ items: z.array(devicePlacementSchema), total: z.number().int() }),
  ),
  /** A device's office and its parent chain up to the central office. */
  deviceOffice: defineRpc('topology.qry.device.office.v1', deviceQuery, deviceOfficeSchema),
  /** Which devices a device may share content with, as its office's type allows. */
  devicePeers: defineRpc(
    'topology.qry.device.peers.v1',
    deviceQuery.extend({ limit: z.number().int().min(1).max(MAX_TOPOLOGY_PEERS).default(64) }),
    devicePeersSchema,
  ),
  /**
   * The current topology's offices in document order, a page at a time like the task list, each
   * with its placed devices; NOT_FOUND before the first upload.
   */
  listOffices: defineRpc('topology.qry.office.list.v1', paginationSchema, officeListSchema),
  /** The WAN links between a device's office and the origin. */
  wanPath: defineRpc('topology.qry.device.wan-path.v1', deviceQuery, wanPathSchema),
} as const;

/** Asked by an agent for itself: the device is the subject's last token. */
export const TopologyDeviceRpc = {
  /** Its office, the policy of the office's type and the WAN figures; asked at start, after each scan and on `topology.changed`. */
  getPolicy: defineDeviceRpc('topology.qry.device.policy', 1, z.object({}), deviceOfficePolicySchema),
} as const;
