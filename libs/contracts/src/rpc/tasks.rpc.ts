import { z } from 'zod';
import { bytesBySourceSchema, idSchema, isoTimeSchema, platformSchema, sha256HexSchema } from '../common';
import { deviceTaskStateSchema, DeviceTaskState } from '../messages/device-status';
import { signedForDevice, taskActionSchema } from '../messages/task-assigned';
import { agentSettingsSchema, profileSchema, resolvedSettingsSchema } from '../settings';
import { signedPeerPassSchema, swarmAnnounceSchema, swarmViewSchema } from '../swarm';
import { deviceQuerySchema } from './inventory.rpc';
import { defineDeviceRpc, defineRpc, paginationSchema } from './define';

// ---- packages -------------------------------------------------------------------------------

export const packageStatusSchema = z.enum(['awaiting-content', 'ready']);

export const createPackageSchema = z.object({
  name: z.string().min(1).max(200),
  version: z.string().min(1).max(100),
  platform: platformSchema,
  installCommand: z.string().min(1).max(4096),
  installArgs: z.array(z.string().max(4096)).max(100).default([]),
  successExitCodes: z.array(z.number().int()).min(1).max(50).default([0]),
  timeoutSeconds: z.number().int().min(1).max(24 * 3600).default(3600),
  /**
   * Encrypted per block (AES-256-GCM, a key of its own) before its content leaves the origin: the
   * origin, peers and multicast carry only ciphertext, and only devices targeted by a task with the
   * package get the key. Added field: older callers send none (not confidential).
   */
  confidential: z.boolean().default(false),
});
export type CreatePackage = z.input<typeof createPackageSchema>;

export const packageSchema = createPackageSchema.required().extend({
  /** Whether the package is confidential (see `createPackageSchema`); the tasks service always says. */
  confidential: z.boolean().optional(),
  id: idSchema,
  status: packageStatusSchema,
  contentId: sha256HexSchema.nullable(),
  size: z.number().int().nonnegative().nullable(),
  createdAt: z.string(),
});
export type Package = z.infer<typeof packageSchema>;

/** The origin's account of content it stored: what it computed while the bytes went in. */
export const contentDescriptorSchema = z.object({
  contentId: sha256HexSchema,
  size: z.number().int().nonnegative(),
  blockSize: z.number().int().positive(),
  /** SHA-256 of every block, concatenated, base64. */
  blockHashes: z.string(),
});
export type ContentDescriptor = z.infer<typeof contentDescriptorSchema>;

/**
 * Attaches stored content to a package, which signs its manifest. Version 2 names the content
 * only: the tasks service reads the block hashes from the origin (`GET /v1/content/{id}/blocks`,
 * computed while it stored the bytes) and never signs hashes a caller supplies, as version 1 did.
 */
export const attachContentSchema = z.object({
  packageId: idSchema,
  contentId: sha256HexSchema,
});

/**
 * A confidential package's content key, as the tasks service gives it to a targeted device. The
 * content is sealed block by block under `scheme` (see @fleetcast/content confidential.ts), bound to
 * `packageId`; the agent opens it only into its install directory.
 */
export const contentKeySchema = z.object({
  contentId: sha256HexSchema,
  packageId: idSchema,
  scheme: z.literal('aes-256-gcm-blocks-v1'),
  /** 32 bytes, base64. */
  key: z.string().length(44),
});
export type ContentKey = z.infer<typeof contentKeySchema>;

/** A package manifest signed by the control plane (Ed25519). Agents verify every block against it. */
/**
 * Block hashes one manifest reply carries: 20,000 (625 KiB of hashes, 853 KB in base64) keeps a
 * reply inside NATS's 1 MiB payload. A manifest of more blocks (a package over 20 GiB at 1 MiB
 * blocks) comes in pages; the signature covers the whole manifest, so a device checks it once all
 * pages are in.
 */
export const MANIFEST_PAGE_BLOCKS = 20_000;

/**
 * A signed manifest, or one page of it: `blockHashes` holds the hashes of blocks `fromBlock` on
 * (base64), `nextBlock` is where the next page starts (null: this page ends the manifest). The
 * signature and key are the whole manifest's, on every page. Replies of a server that predates
 * paging carry neither field: the whole manifest.
 */
export const signedManifestSchema = z.object({
  contentId: sha256HexSchema,
  size: z.number().int().nonnegative(),
  blockSize: z.number().int().positive(),
  blockHashes: z.string(),
  keyId: z.string(),
  signature: z.string(),
  fromBlock: z.number().int().nonnegative().default(0),
  nextBlock: z.number().int().positive().nullable().default(null),
});
export type SignedManifest = z.infer<typeof signedManifestSchema>;
/** Which page of a manifest to send: the block it starts at (0: the first page, or the whole manifest). */
export const manifestRequestSchema = z.object({ contentId: sha256HexSchema, fromBlock: z.number().int().nonnegative().default(0) });

export const signingKeySchema = z.object({ keyId: z.string(), publicKeyDer: z.string() });

/**
 * The control-plane keys a device may pin: the active one first, then those retiring (still valid
 * during a rotation's overlap). Retired keys are not in it.
 */
export const signingKeySetSchema = z.object({ keys: z.array(signingKeySchema) });
export type SigningKeySet = z.infer<typeof signingKeySetSchema>;

/** A signing key's life: `active` signs; `retiring` no longer signs but still verifies; `retired` is trusted no more. */
export const signingKeyStateSchema = z.enum(['active', 'retiring', 'retired']);
export type SigningKeyState = z.infer<typeof signingKeyStateSchema>;

/** A signing key as an operator sees it (never its private half). */
export const signingKeyInfoSchema = signingKeySchema.extend({
  state: signingKeyStateSchema,
  createdAt: z.string(),
  /** When it stopped signing (a rotation made another key active); null while active. */
  retiringAt: z.string().nullable(),
  retiredAt: z.string().nullable(),
  /** The key whose endorsement vouches for this one; null for the first key. */
  endorsedBy: z.string().nullable(),
});
export type SigningKeyInfo = z.infer<typeof signingKeyInfoSchema>;
export const signingKeyListSchema = z.object({ items: z.array(signingKeyInfoSchema) });

// ---- tasks ----------------------------------------------------------------------------------

export const taskTargetsSchema = z
  .object({
    deviceIds: z.array(idSchema).min(1).max(100_000).optional(),
    query: deviceQuerySchema.optional(),
  })
  .refine((t) => t.deviceIds !== undefined || t.query !== undefined, { message: 'give deviceIds or query' });

export const createTaskSchema = z.object({
  name: z.string().min(1).max(200).optional(),
  packageId: idSchema,
  action: taskActionSchema,
  targets: taskTargetsSchema,
  /** Start at this time; absent = now. */
  startAt: isoTimeSchema.optional(),
  /** A settings profile that overrides the devices' default for this task. */
  profileId: idSchema.optional(),
});
export type CreateTask = z.input<typeof createTaskSchema>;

/** `cancelled`: an operator cancelled the task (`POST /v1/tasks/{id}/cancel`); final, like `completed`. */
export const taskStatusSchema = z.enum(['scheduled', 'active', 'completed', 'cancelled']);

export const stateCountsSchema = z.record(deviceTaskStateSchema, z.number().int()) as z.ZodType<Record<DeviceTaskState, number>>;

export const subnetSummarySchema = z.object({
  subnet: z.string(),
  total: z.number().int(),
  counts: stateCountsSchema,
  /** Bytes received, by source: `origin` and `parent` are what crossed the WAN to this subnet. */
  bytes: bytesBySourceSchema,
  /**
   * The LAN session: its representative (null when none reported), start, LAN bytes sent, repairs.
   * Optional so that a reply without it (an older tasks service) still parses.
   */
  lan: z.object({
    representative: idSchema.nullable(),
    sessionStartedAt: z.string().nullable(),
    lanBytesSent: z.number().int(),
    repairs: z.number().int(),
    invalidPackets: z.number().int(),
    /** Devices whose session fell short, by issue code (see LanIssueCode), with one device's message. */
    issues: z.array(z.object({ code: z.string(), message: z.string(), devices: z.number().int() })).optional(),
  }).optional(),
});

/**
 * A task's devices in one office (the office the topology placed each device in when the tasks
 * service last asked), with what crossed the office's WAN link and what the office's LAN carried.
 */
export const officeSummarySchema = z.object({
  /** The office's ID; null: devices in no office (no topology, not placed yet, or in no office's subnets). */
  officeId: idSchema.nullable(),
  /** The office's name as the topology gave it; null with `officeId`. */
  name: z.string().nullable(),
  devices: z.number().int().nonnegative(),
  bytes: bytesBySourceSchema,
  /** What crossed the office's WAN link: bytes from the origin and from the parent office's holders. */
  wanBytes: z.number().int().nonnegative(),
  /** What its devices received from peers and multicast: bytes that did not cross the WAN link. */
  savedBytes: z.number().int().nonnegative(),
});
export type OfficeSummary = z.infer<typeof officeSummarySchema>;

export const taskSummarySchema = z.object({
  taskId: idSchema,
  total: z.number().int(),
  counts: stateCountsSchema,
  bytes: bytesBySourceSchema,
  subnets: z.array(subnetSummarySchema),
  /**
   * Devices whose last report gave a reason, by state and reason code, with one device's message:
   * why devices fail, and why unfinished ones do not progress (`queued` with CACHE.NO_SPACE, a
   * download being retried). Optional so that a reply without it (an older tasks service) still parses.
   */
  reasons: z.array(z.object({ state: deviceTaskStateSchema, code: z.string(), message: z.string(), devices: z.number().int() })).optional(),
  /**
   * Per office: devices, bytes by source, WAN bytes and bytes saved; most WAN bytes first, devices in
   * no office last. Optional so that a reply without it (an older tasks service) still parses.
   */
  offices: z.array(officeSummarySchema).optional(),
});
export type TaskSummary = z.infer<typeof taskSummarySchema>;

export const taskSchema = z.object({
  id: idSchema,
  name: z.string(),
  packageId: idSchema,
  action: taskActionSchema,
  status: taskStatusSchema,
  profileId: idSchema.nullable(),
  startAt: z.string(),
  createdAt: z.string(),
  summary: taskSummarySchema,
});
export type Task = z.infer<typeof taskSchema>;

export const deviceTaskSchema = z.object({
  taskId: idSchema,
  deviceId: idSchema,
  subnet: z.string().nullable(),
  state: deviceTaskStateSchema,
  reason: z.object({ code: z.string(), message: z.string() }).nullable(),
  bytes: bytesBySourceSchema,
  hashVerified: z.boolean(),
  exitCode: z.number().int().nullable(),
  outputTail: z.string().nullable(),
  updatedAt: z.string(),
  /** The device's attempt at the task: 1, plus one per retry. Optional: older tasks services do not send it. */
  attempt: z.number().int().positive().optional(),
  /**
   * The office the device was in for the task as the tasks service last learned it (its swarm
   * announces and status reports); null: none known. Optional: older tasks services do not send it.
   */
  officeId: idSchema.nullable().optional(),
});
export type DeviceTask = z.infer<typeof deviceTaskSchema>;

/**
 * What a device needs to take part in its subnet's LAN session for a task: the per-task key that
 * authenticates every LAN packet (it travels only over NATS, never on the LAN, so a host on the
 * subnet cannot forge packets), and the task's other target devices on the same subnet (so a
 * representative can start before its session start delay once all of them have joined).
 */
/** What the control plane vouches for a device's claims in a LAN session (see `lanSessionSchema.claimTicket`). */
export const lanClaimTicketSchema = z.object({
  /** The control-plane signing key that signed the ticket (16 hex characters). */
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
  /** Unix seconds. */
  notAfter: z.number().int().nonnegative(),
  /** Ed25519 signature, base64. */
  signature: z.string().min(1).max(200),
});
export type LanClaimTicket = z.infer<typeof lanClaimTicketSchema>;

export const lanSessionSchema = z.object({
  taskId: idSchema,
  /** 32 random bytes, base64. */
  sessionKey: z.string(),
  subnet: z.string().nullable(),
  subnetDeviceIds: z.array(idSchema),
  /**
   * Addresses on the subnet of some of those devices (at most MAX_SESSION_PEERS, as the inventory
   * last saw them): where the device may look for their block servers when the multicast group
   * cannot tell it (multicast blocked, or the session over before it came). Optional: an added
   * field that older tasks services do not send.
   */
  subnetPeers: z.array(z.object({ deviceId: idSchema, address: z.string() })).optional(),
  /**
   * The device's ticket to claim the session (present when it sent a `claimKey`): the control
   * plane's signature over (task, the device's LAN sender ID, that key, `notAfter`), with which the
   * device signs its ANNOUNCE and CLAIM so that the others can tell it is who it says (a target of the task).
   */
  claimTicket: lanClaimTicketSchema.optional(),
});
export type LanSession = z.infer<typeof lanSessionSchema>;

/** A raw Ed25519 public key (32 bytes), base64: 44 characters. */
export const lanClaimKeySchema = z.string().regex(/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/, 'a 32-byte Ed25519 public key in base64');

/** Peers' addresses a LAN session names: plenty to repair from, bounded for a subnet of thousands. */
export const MAX_SESSION_PEERS = 64;

/** The task list's filters: status, package, and a creation time range ([createdAfter, createdBefore)). */
export const listTasksSchema = paginationSchema
  .extend({
    status: taskStatusSchema.optional(),
    packageId: idSchema.optional(),
    createdAfter: isoTimeSchema.optional(),
    createdBefore: isoTimeSchema.optional(),
  })
  .refine((q) => q.createdAfter === undefined || q.createdBefore === undefined || Date.parse(q.createdAfter) < Date.parse(q.createdBefore), {
    message: 'createdAfter must be before createdBefore',
    path: ['createdBefore'],
  });
export type ListTasksQuery = z.infer<typeof listTasksSchema>;

/**
 * The package list's filters: a case-insensitive substring of the name, a creation time range
 * ([createdAfter, createdBefore)) and the status; paginated like the task list (limit and offset,
 * newest first, `total` counts the matches). Deleted packages are never listed.
 */
export const listPackagesSchema = paginationSchema
  .extend({
    name: z.string().min(1).max(200).optional(),
    status: packageStatusSchema.optional(),
    createdAfter: isoTimeSchema.optional(),
    createdBefore: isoTimeSchema.optional(),
  })
  .refine((q) => q.createdAfter === undefined || q.createdBefore === undefined || Date.parse(q.createdAfter) < Date.parse(q.createdBefore), {
    message: 'createdAfter must be before createdBefore',
    path: ['createdBefore'],
  });
export type ListPackagesQuery = z.infer<typeof listPackagesSchema>;

/**
 * What deleting a package did. `releasedContentId` is the content no package uses any more: the
 * caller removes it from the origin (null when the package had no content, or another package has
 * the same bytes). Deleting a package already deleted answers the same again, so that a caller whose
 * origin request failed can finish the job.
 */
export const packageDeletedSchema = z.object({
  id: idSchema,
  deletedAt: z.string(),
  releasedContentId: sha256HexSchema.nullable(),
});
export type PackageDeleted = z.infer<typeof packageDeletedSchema>;

/** Content IDs a deletion notice carries at most: the newest deletions first. */
export const MAX_CONTENT_DELETIONS = 1000;

/**
 * The control plane's word, signed, that the content of deleted packages may be dropped from this
 * device's cache. Signed for one device and for a short window, with the key that signs assignments
 * (domain-separated bytes: `contentDeletionsSigningBytes`), so that nothing but the control plane can
 * make a device delete content.
 */
export const contentDeletionsDocumentSchema = z.object({
  deviceId: idSchema,
  contentIds: z.array(sha256HexSchema).max(MAX_CONTENT_DELETIONS),
  issuedAt: isoTimeSchema,
  expiresAt: isoTimeSchema,
});
export type ContentDeletionsDocument = z.infer<typeof contentDeletionsDocumentSchema>;

export const signedContentDeletionsSchema = signedForDevice(contentDeletionsDocumentSchema);
export type SignedContentDeletions = z.infer<typeof signedContentDeletionsSchema>;

export const packageContentStatusSchema = z.object({
  packageId: idSchema,
  contentId: sha256HexSchema.nullable(),
  state: z.enum(['available', 'missing', 'no-content']),
  detail: z.string().nullable(),
});
export type PackageContentStatus = z.infer<typeof packageContentStatusSchema>;

/** A retry's request: the failed devices to try again (absent: every failed one). */
export const retryTaskSchema = z.object({
  deviceIds: z.array(idSchema).min(1).max(100_000).optional(),
});
export type RetryTask = z.infer<typeof retryTaskSchema>;

const byId = z.object({ id: idSchema });
const list = <T extends z.ZodTypeAny>(item: T) => z.object({ items: z.array(item), total: z.number().int() });

export const TasksRpc = {
  createPackage: defineRpc('tasks.cmd.package.create.v1', createPackageSchema, packageSchema),
  getPackage: defineRpc('tasks.qry.package.get.v1', byId, packageSchema),
  /** Newest first; optional filters (added fields: older callers send none). */
  listPackages: defineRpc('tasks.qry.package.list.v1', listPackagesSchema, list(packageSchema)),
  /**
   * Deletes a package: refused with TASKS.PACKAGE_IN_USE while a scheduled or active task uses it,
   * TASKS.PACKAGE_NOT_FOUND for an unknown ID. The record is kept, marked deleted (completed tasks
   * still name it); it is no longer listed, read or usable by a new task.
   */
  deletePackage: defineRpc('tasks.cmd.package.delete.v1', byId, packageDeletedSchema),
  /**
   * A page of packages, each checked against the origin: `available` (the origin holds the content
   * the manifest names), `missing` (it does not: upload it again), `no-content` (none uploaded yet).
   * An origin that does not answer fails the request (COMMON.UNAVAILABLE): try again later.
   */
  packageContentStatus: defineRpc('tasks.qry.package.content-status.v1', paginationSchema, list(packageContentStatusSchema)),
  attachContent: defineRpc('tasks.cmd.package.attach-content.v2', attachContentSchema, packageSchema),
  getManifest: defineRpc('tasks.qry.manifest.get.v1', manifestRequestSchema, signedManifestSchema),
  /** The active signing key (kept for existing callers; `getSigningKeys` gives the whole set). */
  getSigningKey: defineRpc('tasks.qry.signing-key.get.v1', z.object({}), signingKeySchema),
  /** The keys a device pins (at enrollment): active first, then retiring. */
  getSigningKeys: defineRpc('tasks.qry.signing-keys.get.v1', z.object({}), signingKeySetSchema),
  /** Every signing key with its state, newest first. */
  listSigningKeys: defineRpc('tasks.qry.signing-key.list.v1', z.object({}), signingKeyListSchema),
  /** Makes a new key active, endorsed by the active one, which becomes `retiring` (the overlap starts). */
  rotateSigningKey: defineRpc('tasks.cmd.signing-key.rotate.v1', z.object({}), signingKeyListSchema),
  /** Ends the overlap for a `retiring` key: manifests it signed are signed again with the active key, and devices drop it. */
  retireSigningKey: defineRpc('tasks.cmd.signing-key.retire.v1', z.object({ keyId: z.string().min(1).max(64) }), signingKeyListSchema),

  createProfile: defineRpc('tasks.cmd.profile.create.v1', agentSettingsSchema.partial().extend({ name: z.string().min(1).max(200) }), profileSchema),
  updateProfile: defineRpc('tasks.cmd.profile.update.v1', z.object({ id: idSchema, patch: agentSettingsSchema.partial().extend({ name: z.string().min(1).max(200).optional() }) }), profileSchema),
  getProfile: defineRpc('tasks.qry.profile.get.v1', byId, profileSchema),
  listProfiles: defineRpc('tasks.qry.profile.list.v1', paginationSchema, list(profileSchema)),
  /** A device's default settings (what it uses outside a task with its own profile). */
  getDeviceSettings: defineRpc('tasks.qry.settings.get.v1', z.object({ deviceId: idSchema }), resolvedSettingsSchema),

  createTask: defineRpc('tasks.cmd.task.create.v1', createTaskSchema, taskSchema),
  getTask: defineRpc('tasks.qry.task.get.v1', byId, taskSchema),
  /** Newest first; optional filters (added fields: older callers send none). */
  listTasks: defineRpc('tasks.qry.task.list.v1', listTasksSchema, list(taskSchema)),
  listTaskDevices: defineRpc(
    'tasks.qry.task.devices.v1',
    paginationSchema.extend({ id: idSchema, state: deviceTaskStateSchema.optional() }),
    list(deviceTaskSchema),
  ),
  getTaskSummary: defineRpc('tasks.qry.task.summary.v1', byId, taskSummarySchema),
  /**
   * Cancels a task: it and every target not yet in a final state go to `cancelled`, and each such
   * target that was sent the task gets a signed cancellation. TASKS.TASK_FINISHED for a task that is
   * over (completed or cancelled).
   */
  cancelTask: defineRpc('tasks.cmd.task.cancel.v1', byId, taskSchema),
  /**
   * Puts failed targets back to `pending` with a new attempt and sends each a new signed assignment.
   * TASKS.TASK_CANCELLED for a cancelled task, TASKS.NOTHING_TO_RETRY when none (or not every named
   * one) failed, INVENTORY.DEVICE_NOT_FOUND for a named device that is not a target.
   */
  retryTask: defineRpc('tasks.cmd.task.retry.v1', retryTaskSchema.extend({ id: idSchema }), z.object({ task: taskSchema, retried: z.array(idSchema) })),
  /** How a device got where it is in a task: pending at creation, then each change of state or reason, oldest first. */
  getDeviceHistory: defineRpc(
    'tasks.qry.task.device-history.v1',
    z.object({ id: idSchema, deviceId: idSchema }),
    z.object({
      taskId: idSchema,
      deviceId: idSchema,
      items: z.array(z.object({ seq: z.number().int().nonnegative(), state: deviceTaskStateSchema, reason: z.object({ code: z.string(), message: z.string() }).nullable(), at: z.string() })),
    }),
  ),
  getLanSession: defineRpc('tasks.qry.task.lan-session.v1', z.object({ taskId: idSchema, deviceId: idSchema }), lanSessionSchema),
} as const;

/**
 * What an agent asks the tasks service, scoped to the asking device (its ID is the subject's last
 * token, which the device's NATS permissions fix): version 2 of the queries whose version 1 took the
 * device from the payload. The LAN key goes only to a device that is a target of the task.
 */
export const TasksDeviceRpc = {
  /** With `claimKey` (a public key the device made), the answer carries the device's claim ticket for it. */
  getLanSession: defineDeviceRpc('tasks.qry.task.lan-session', 2, z.object({ taskId: idSchema, claimKey: lanClaimKeySchema.optional() }), lanSessionSchema),
  getSettings: defineDeviceRpc('tasks.qry.settings.get', 2, z.object({}), resolvedSettingsSchema),
  getManifest: defineDeviceRpc('tasks.qry.manifest.get', 2, manifestRequestSchema, signedManifestSchema),
  /**
   * A short-lived token with which the origin serves this device that content (sent as
   * `Authorization: Bearer <token>`); only for a device that is a target of a task with it. Null
   * when the control plane issues no tokens (an origin that serves anyone).
   */
  /**
   * The content of deleted packages this device may drop from its cache, signed for it: an agent
   * asks at every inventory scan and acts only on a notice whose signature it verifies.
   */
  getContentDeletions: defineDeviceRpc('tasks.qry.content-deletions.get', 1, z.object({}), signedContentDeletionsSchema),
  getDownloadToken: defineDeviceRpc(
    'tasks.qry.download-token.get',
    1,
    z.object({ contentId: sha256HexSchema }),
    z.object({ token: z.string().nullable(), expiresAt: z.string().nullable() }),
  ),
  /**
   * What the device holds of a task's content, and its office's view back: the peers of its office
   * and of the parent office that hold blocks, and who brings the content across the office's WAN
   * link (docs/p2p.md). Only for a target of the task.
   */
  swarmAnnounce: defineDeviceRpc('tasks.cmd.swarm.announce', 1, swarmAnnounceSchema, swarmViewSchema),
  /** The device's pass to its office's peer block servers (and its parent office's), valid for minutes. */
  getPeerPass: defineDeviceRpc('tasks.qry.peer-pass.get', 1, z.object({}), signedPeerPassSchema),
  /**
   * The key of a confidential package's content, for a device that is a target of a task not yet
   * over with it (TASKS.NOT_A_TARGET otherwise; TASKS.NOT_CONFIDENTIAL for content that is not
   * encrypted). Only over the device's own subject, which NATS lets only that device use.
   */
  getContentKey: defineDeviceRpc('tasks.qry.content-key.get', 1, z.object({ contentId: sha256HexSchema }), contentKeySchema),
} as const;
