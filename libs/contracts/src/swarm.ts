import { z } from 'zod';
import { idSchema, isoTimeSchema, sha256HexSchema } from './common';
import { keyEndorsementSchema } from './messages/task-assigned';
import { officeRefSchema } from './topology-document';

/**
 * Peer-to-peer inside an office (docs/p2p.md): the tasks service keeps, per content and office,
 * which devices hold which blocks (the only metadata: content ID, size, hash and block runs) and
 * which one device brings the content across the office's WAN link. A device announces what it
 * holds about once a second while it downloads and gets the office's view back.
 */

/**
 * Most runs of blocks one holdings list carries: a 16 GiB package at 1 MiB blocks held every other
 * block is 8,192 runs (as the peer block server's MAX_HOLDINGS_RANGES), ~200 KB of JSON, inside a
 * NATS message (1 MiB). A device with more runs than this announces the first ones.
 */
export const MAX_SWARM_RUNS = 8192;

/**
 * Most peers a view names per office: enough for a swarm to spread its requests (a fetcher keeps
 * a few requests open per peer), small enough that a view with every peer's runs stays far below
 * a NATS message (32 partial holders of a 64 MiB package: a few KB).
 */
export const MAX_SWARM_PEERS = 32;

export const blockRunSchema = z.object({ first: z.number().int().nonnegative(), count: z.number().int().positive() });
export type BlockRun = z.infer<typeof blockRunSchema>;

export const swarmAnnounceSchema = z.object({
  taskId: idSchema,
  /** The port of the device's peer block server; null when it serves no peers (it still fetches). */
  peerPort: z.number().int().min(1).max(65535).nullable(),
  /** It holds the whole content, verified. */
  complete: z.boolean(),
  /** Verified blocks it holds, as runs (ignored when complete). */
  runs: z.array(blockRunSchema).max(MAX_SWARM_RUNS),
  /**
   * It needs blocks that no peer of its office holds: it asks to be (or stay) the office's upstream
   * fetcher, the one device that brings them across the office's WAN link.
   */
  upstream: z.boolean(),
});
export type SwarmAnnounce = z.infer<typeof swarmAnnounceSchema>;

export const swarmPeerSchema = z.object({
  deviceId: idSchema,
  /** Its peer block server, http://<the address that placed it>:<port>. */
  url: z.string().max(300),
  complete: z.boolean(),
  runs: z.array(blockRunSchema).max(MAX_SWARM_RUNS),
});
export type SwarmPeer = z.infer<typeof swarmPeerSchema>;

export const swarmViewSchema = z.object({
  taskId: idSchema,
  contentId: sha256HexSchema,
  /** The device's office; null without a topology. */
  office: officeRefSchema.nullable(),
  /**
   * Why the device takes no part in a swarm (a `vpn` office, an unplaced device, no topology): it
   * downloads from the origin. Null when it takes part.
   */
  noSwarmReason: z.string().nullable(),
  /** Other devices of its office that hold blocks of the content, complete ones first. */
  peers: z.array(swarmPeerSchema).max(MAX_SWARM_PEERS),
  /** Its office's parent office (null at the top) and the holders there: where the upstream fetcher goes before the origin. */
  parentOffice: officeRefSchema.nullable(),
  parentPeers: z.array(swarmPeerSchema).max(MAX_SWARM_PEERS),
  /** The office's upstream fetcher for this content: null when none holds the lease. */
  upstream: z.object({ deviceId: idSchema.nullable(), mine: z.boolean(), expiresAt: isoTimeSchema.nullable() }),
  /** When to announce again. */
  announceIntervalMs: z.number().int().positive(),
});
export type SwarmView = z.infer<typeof swarmViewSchema>;

export const peerPassDocumentSchema = z.object({
  deviceId: idSchema,
  officeId: idSchema.nullable(),
  parentOfficeId: idSchema.nullable(),
  issuedAt: isoTimeSchema,
  expiresAt: isoTimeSchema,
});

/** A device's pass to its office's peers (libs/content peer-pass.ts), signed like an assignment. */
export const signedPeerPassSchema = z.object({
  document: peerPassDocumentSchema,
  keyId: z.string().min(1).max(64),
  /** Ed25519 signature, base64. */
  signature: z.string().max(200),
  endorsements: z.array(keyEndorsementSchema).max(16),
});
export type SignedPeerPass = z.infer<typeof signedPeerPassSchema>;

/** The HTTP header in which a fetcher shows its pass to a peer block server: the signed pass as base64url JSON. */
export const PEER_PASS_HEADER = 'x-fleetcast-peer-pass';
