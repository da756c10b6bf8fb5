import { z } from 'zod';
import { idSchema, isoTimeSchema } from './common';

/**
 * The network topology an administrator uploads (JSON or YAML): offices in a tree, a central office
 * at the top, each with its subnets, a type and a WAN link to its parent. The shape is checked here;
 * what only the whole document can tell (overlapping subnets, cycles, unknown parents, the origin
 * outside the central office) is checked by the topology service's validation, which names every
 * problem with its location.
 */

/**
 * What an office's devices may do with each other on their LAN:
 * - `default`: share content (multicast sessions, peer downloads) and discover each other by multicast;
 * - `vpn`: never share with each other (remote workers: their "LAN" is the tunnel), each goes to the origin;
 * - `wifi`: share, but send no broadcast or multicast discovery (it floods the air at the lowest
 *   basic rate); peers are named by the control plane instead.
 */
export const officeTypeSchema = z.enum(['default', 'vpn', 'wifi']);
export type OfficeType = z.infer<typeof officeTypeSchema>;

/**
 * Most offices in one document. A document travels in one NATS request (1 MiB default
 * `max_payload`) and one gateway body (1 MiB); an office with one subnet and a WAN link is ~120
 * bytes of JSON, so 5,000 fill ~600 KB and leave room for a second subnet each.
 */
export const MAX_TOPOLOGY_OFFICES = 5_000;

/** Most subnets one office lists: a large campus with a VLAN per floor and building stays far below it. */
export const MAX_OFFICE_SUBNETS = 256;

/** Most addresses the origin is listed with (dual stack, a few load-balanced front ends). */
export const MAX_ORIGIN_ADDRESSES = 16;

/**
 * Fastest WAN link accepted, in kbit/s: 100 Gbit/s. Only a typo goes beyond it, and a planner
 * given a bandwidth off by a factor of 1,000 plans nonsense.
 */
export const MAX_WAN_BANDWIDTH_KBPS = 100_000_000;

/** The uplink from an office to its parent office. */
export const wanLinkSchema = z
  .object({
    /** Bandwidth of the link in kbit/s (10 Mbit/s = 10000): used by planning and by rate limits. */
    bandwidthKbps: z.number().int().min(1).max(MAX_WAN_BANDWIDTH_KBPS),
    /**
     * The most the fleet's downloads across this link may use, kbit/s (leave room for the office's
     * other traffic); absent or null: no cap. The device that brings content across the link for
     * its office reads no faster than this (docs/p2p.md).
     */
    rateCapKbps: z.number().int().min(1).max(MAX_WAN_BANDWIDTH_KBPS).nullable().optional(),
  })
  .strict();
export type WanLink = z.infer<typeof wanLinkSchema>;

export const officeSchema = z
  .object({
    /** Stable ID: what devices, events and the API name the office by. */
    id: idSchema,
    name: z.string().min(1).max(200),
    type: officeTypeSchema.default('default'),
    /** The parent office's ID; null (or absent) for the central office, the one office at the top. */
    parent: idSchema.nullable().default(null),
    /** IPv4 and IPv6 networks in CIDR form ("10.1.2.0/24", "2001:db8:1::/48"); a device whose address lies in one belongs here. */
    subnets: z.array(z.string().max(64)).max(MAX_OFFICE_SUBNETS).default([]),
    /** The WAN link to the parent: required for a branch office, absent (null) for the central office. */
    wan: wanLinkSchema.nullable().default(null),
  })
  .strict();
export type Office = z.infer<typeof officeSchema>;

/** Version of the document format (not of the topology: uploads are numbered by the service). */
export const TOPOLOGY_SCHEMA_VERSION = 1;

export const topologyDocumentSchema = z
  .object({
    schemaVersion: z.literal(TOPOLOGY_SCHEMA_VERSION),
    /** The distribution server (the content origin): its addresses must lie in the central office's subnets. */
    origin: z.object({ addresses: z.array(z.string().ip()).min(1).max(MAX_ORIGIN_ADDRESSES) }).strict(),
    /**
     * Where a device whose addresses lie in no office's subnets is put (and listed as unplaced);
     * the central office when absent.
     */
    defaultOffice: idSchema.nullable().default(null),
    offices: z.array(officeSchema).min(1).max(MAX_TOPOLOGY_OFFICES),
  })
  .strict();
/** A topology as stored and returned: every default filled in, subnets in canonical form. */
export type TopologyDocument = z.infer<typeof topologyDocumentSchema>;
/** A topology as an administrator may write it (defaults may be left out). */
export type TopologyDocumentInput = z.input<typeof topologyDocumentSchema>;

/**
 * What the validation found wrong, one code per kind of problem; `path` (a JSON pointer into the
 * document, like `/offices/3/subnets/0`) says where.
 */
export const topologyProblemCodeSchema = z.enum([
  /** The document does not have the shape above (a missing field, a wrong type, an unknown key). */
  'schema',
  'duplicate-office-id',
  /** Not an IPv4 or IPv6 network in CIDR form. */
  'invalid-cidr',
  /** Host bits set ("10.1.2.5/24"): the message names the network meant ("10.1.2.0/24"). */
  'host-bits-set',
  /** The same network listed twice in one office. */
  'duplicate-subnet',
  /** The same network listed in two offices: a device there would belong to both. */
  'subnet-in-two-offices',
  /** Two different networks that share addresses (one contains the other). */
  'overlapping-subnets',
  'unknown-parent',
  /** Offices whose parents lead back to themselves: no path to the central office. */
  'cycle',
  /** No office without a parent. */
  'no-central-office',
  /** More than one office without a parent: a topology is one tree. */
  'several-central-offices',
  /** A branch office without the bandwidth of its link to its parent. */
  'missing-wan-link',
  /** The central office has no parent, so no link to one. */
  'central-office-wan-link',
  /** An origin address in no subnet of the central office. */
  'origin-outside-central-office',
  'unknown-default-office',
]);
export type TopologyProblemCode = z.infer<typeof topologyProblemCodeSchema>;

export const topologyProblemSchema = z.object({
  code: topologyProblemCodeSchema,
  /** JSON pointer (RFC 6901) into the document: `/offices/3/subnets/0`; `` for the whole document. */
  path: z.string(),
  message: z.string(),
});
export type TopologyProblem = z.infer<typeof topologyProblemSchema>;

/** Most office IDs a change summary lists per kind; the counts are always complete. */
export const TOPOLOGY_SUMMARY_MAX_IDS = 100;

/** What a new version changed against the one before (the first version: everything added). */
export const topologyChangeSummarySchema = z.object({
  officesAdded: z.number().int().nonnegative(),
  officesRemoved: z.number().int().nonnegative(),
  /** Offices whose name, type, parent, subnets or WAN link changed. */
  officesChanged: z.number().int().nonnegative(),
  subnetsAdded: z.number().int().nonnegative(),
  subnetsRemoved: z.number().int().nonnegative(),
  /** The first TOPOLOGY_SUMMARY_MAX_IDS office IDs of each kind, in document order. */
  addedOfficeIds: z.array(idSchema).max(TOPOLOGY_SUMMARY_MAX_IDS),
  removedOfficeIds: z.array(idSchema).max(TOPOLOGY_SUMMARY_MAX_IDS),
  changedOfficeIds: z.array(idSchema).max(TOPOLOGY_SUMMARY_MAX_IDS),
  originChanged: z.boolean(),
  defaultOfficeChanged: z.boolean(),
  /** The same in words: "2 offices added (paris, lyon); 1 changed (hq); 3 subnets added". */
  text: z.string(),
});
export type TopologyChangeSummary = z.infer<typeof topologyChangeSummarySchema>;

/** One stored version of the topology: who changed what, when. */
export const topologyVersionSchema = z.object({
  version: z.number().int().positive(),
  /** The API token's name (or the caller's own name for NATS callers). */
  author: z.string(),
  comment: z.string().nullable(),
  createdAt: isoTimeSchema,
  summary: topologyChangeSummarySchema,
});
export type TopologyVersion = z.infer<typeof topologyVersionSchema>;

/** An office as other answers name it. */
export const officeRefSchema = z.object({ id: idSchema, name: z.string(), type: officeTypeSchema });
export type OfficeRef = z.infer<typeof officeRefSchema>;

/**
 * What an office's type means for its devices (see officeTypeSchema): whether they may share
 * content with each other, and whether they may announce and discover by broadcast or multicast.
 */
export const officePolicySchema = z.object({
  shareWithPeers: z.boolean(),
  multicastDiscovery: z.boolean(),
});
export type OfficePolicy = z.infer<typeof officePolicySchema>;

/**
 * The policy of each office type: a vpn office's devices share nothing with each other (each is
 * alone behind its tunnel); a wifi office's share, but announce and discover nothing by broadcast
 * or multicast, which floods the air at the lowest rate; peers are named by the control plane instead.
 */
export function officePolicy(type: OfficeType): OfficePolicy {
  switch (type) {
    case 'default':
      return { shareWithPeers: true, multicastDiscovery: true };
    case 'vpn':
      return { shareWithPeers: false, multicastDiscovery: false };
    case 'wifi':
      return { shareWithPeers: true, multicastDiscovery: false };
  }
}
