import {
  assignmentReplayConsumerName,
  deviceInboxPrefix,
  DevicePlaced,
  DeviceStatusReported,
  deviceCommandsFilter,
  DeviceTaskChanged,
  InventoryScanSubmitted,
  SettingsChanged,
  Streams,
  SubjectBase,
  TaskAssigned,
  TaskChanged,
  TasksDeviceRpc,
  TasksRpc,
  TopologyChanged,
  TopologyDeviceRpc,
  TopologyRpc,
  WebhooksRpc,
} from '@fleetcast/contracts';

/**
 * NATS permissions of every kind of user in the fleet's account, derived from the contracts: what a
 * device and each service may publish and subscribe to. Pure: the JWTs carry these lists, and the
 * server enforces them on every message.
 */
export interface SubjectPermissions {
  pub: { allow: string[]; deny?: string[] };
  sub: { allow: string[]; deny?: string[] };
}

/** The services that connect to NATS, each as its own user. */
export const SERVICE_ROLES = ['inventory', 'tasks', 'origin', 'gateway', 'licensing', 'topology', 'webhooks'] as const;
export type ServiceRole = (typeof SERVICE_ROLES)[number];

/** Replaces a subject's version token with `*`: every version (of this device's subject, where it has one). */
const anyVersion = (subject: string): string => subject.replace(/\.v\d+(\.|$)/, '.*$1');

/**
 * A JetStream API request, as a client connected to the core sends it (`$JS.API.<request>`) and as
 * one behind a branch leaf node sends it, under the core's domain (`$JS.<domain>.API.<request>`).
 */
const jsApi = (request: string): string[] => [`$JS.API.${request}`, `$JS.*.API.${request}`];

/**
 * A device may publish its own scans and status reports, ask the device-scoped queries for itself
 * (tasks' and its office's policy), and replay its own assignments through one consumer named after
 * it; it may subscribe to its own assignments, the settings broadcast, the topology-changed
 * broadcast, its own placements and its own inboxes. Nothing else: not another device's subjects,
 * not `tasks.cmd.*`, not the JetStream API beyond that one consumer.
 */
export function devicePermissions(deviceId: string): SubjectPermissions {
  const stream = Streams.taskAssignments.name;
  const consumer = assignmentReplayConsumerName(deviceId);
  const jsConsumer = (action: string) => `CONSUMER.${action}.${stream}.${consumer}`;
  return {
    pub: {
      allow: [
        anyVersion(InventoryScanSubmitted.subject(deviceId)),
        anyVersion(DeviceStatusReported.subject(deviceId)),
        ...[...Object.values(TasksDeviceRpc), ...Object.values(TopologyDeviceRpc)].map((rpc) => anyVersion(rpc.subjectFor(deviceId))),
        // The client asks for the account's JetStream info before it uses the API.
        ...jsApi('INFO'),
        // Named consumer creation carries the filter in the subject (server 2.9+): this device's
        // commands (assignments and cancellations) only; the assignments-only filter of agents
        // from before cancellations stays allowed.
        ...jsApi(`${jsConsumer('CREATE')}.${deviceCommandsFilter(deviceId)}`),
        ...jsApi(`${jsConsumer('CREATE')}.${TaskAssigned.deviceFilter(deviceId)}`),
        ...jsApi(jsConsumer('INFO')),
        ...jsApi(jsConsumer('MSG.NEXT')),
        ...jsApi(jsConsumer('DELETE')),
      ],
    },
    sub: {
      allow: [
        deviceCommandsFilter(deviceId),
        TaskAssigned.deviceFilter(deviceId),
        anyVersion(SettingsChanged.subject()),
        anyVersion(TopologyChanged.subject()),
        DevicePlaced.deviceFilter(deviceId),
        `${deviceInboxPrefix(deviceId)}.>`,
      ],
    },
  };
}

/** Stands in for a device ID while the branch leaf's permissions are derived from a device's. */
const ANY_DEVICE = '__any_device__';

/**
 * A branch leaf node's link to the core (NATS leaf node, docs/scaling.md): it carries the traffic
 * of every device of its branch, so it may do what any device may, and nothing else. It is a
 * device's permissions widened over devices; each device behind the leaf is still held to its own
 * subjects by the leaf server, which checks the device's own JWT.
 *
 * What the leaf may publish is also the interest the core sends it: a stream listens on
 * `<base>.>`, and the core tells the leaf of that interest only if the leaf may publish all of it.
 * So a published subject is cut before the token naming the device (and the version wildcard in
 * front of it) and ends in `>`: `tasks.evt.device-status.reported.>`. A subscribed subject keeps
 * its shape with the device token as `*`: `_INBOX.device.*.>`.
 */
export function branchLeafPermissions(): SubjectPermissions {
  const tokensOf = (subject: string): string[] => subject.split('.');
  const pubWiden = (subject: string): string => {
    const tokens = tokensOf(subject);
    let cut = tokens.findIndex((token) => token.includes(ANY_DEVICE));
    if (cut < 0) return subject;
    while (cut > 1 && tokens[cut - 1] === '*') cut--;
    return [...tokens.slice(0, cut), '>'].join('.');
  };
  const subWiden = (subject: string): string =>
    tokensOf(subject)
      .map((token) => (token.includes(ANY_DEVICE) ? '*' : token))
      .join('.');
  const device = devicePermissions(ANY_DEVICE);
  const unique = (subjects: string[], widen: (s: string) => string): string[] => [...new Set(subjects.map(widen))];
  return { pub: { allow: unique(device.pub.allow, pubWiden) }, sub: { allow: unique(device.sub.allow, subWiden) } };
}

/**
 * The leaf's link in the system account: what a server's account resolver needs to learn account
 * updates (a retired device's revocation) from the core, and nothing of the core's administration.
 */
export function branchLeafSystemPermissions(): SubjectPermissions {
  return {
    pub: { allow: ['$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP', '$SYS.REQ.CLAIMS.LOOKUP', '_INBOX.>'] },
    sub: { allow: ['$SYS.REQ.CLAIMS.UPDATE', '$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE', '_INBOX.>'] },
  };
}

/** What every service needs: replies to requests, its own inboxes, the JetStream API and acks. */
const SERVICE_COMMON = { pub: ['_INBOX.>', '$JS.API.>', '$JS.ACK.>'], sub: ['_INBOX.>'] };
const deadLetters = `${SubjectBase.deadLettered}.>`;
const attachContent = anyVersion(TasksRpc.attachContent.subject);
/** The topology service's requests (`topology.cmd.*`, `topology.qry.*`), from the contracts' own subjects. */
const topologyRequests = [...new Set(Object.values(TopologyRpc).map((rpc) => rpc.subject.split('.').slice(0, 2).join('.') + '.>'))];
/** The webhooks service's requests (`webhooks.cmd.*`, `webhooks.qry.*`), from the contracts' own subjects. */
const webhooksRequests = [...new Set(Object.values(WebhooksRpc).map((rpc) => rpc.subject.split('.').slice(0, 2).join('.') + '.>'))];

/**
 * Each service serves its own domain and calls only what it uses. The origin alone may attach
 * content to a package (so the tasks service signs manifests only over hashes the origin computed),
 * and no service but tasks may publish assignments or cancellations.
 */
export function servicePermissions(role: ServiceRole): SubjectPermissions {
  const own: Record<ServiceRole, { pub: string[]; sub: string[]; denyPub?: string[] }> = {
    inventory: { pub: ['inventory.>', deadLetters], sub: ['inventory.>'] },
    tasks: {
      // Asks the topology service for a device's office when it keeps the swarm's view (docs/p2p.md).
      pub: ['tasks.>', 'inventory.qry.>', 'topology.qry.>', deadLetters],
      sub: ['tasks.>'],
      // Served by the tasks service, but only the origin may ask it.
      denyPub: [attachContent],
    },
    origin: { pub: [attachContent, 'tasks.qry.>'], sub: [] },
    gateway: {
      // The audit log's records: the gateway alone writes them.
      pub: ['tasks.cmd.>', 'tasks.qry.>', 'inventory.qry.>', 'licensing.cmd.>', 'licensing.qry.>', ...topologyRequests, ...webhooksRequests, `${SubjectBase.auditRecorded}.>`],
      // Live task updates for the event stream (`GET /v1/events`).
      sub: [anyVersion(TaskChanged.allTasks()), anyVersion(DeviceTaskChanged.allTasks())],
      // Commands to devices (assignments, cancellations) come from the tasks service alone.
      denyPub: [`${SubjectBase.taskAssigned}.>`, `${SubjectBase.taskCancel}.>`],
    },
    // Activation reads the topology and uploads a generated one when none exists.
    licensing: { pub: ['licensing.>', 'tasks.qry.>', 'inventory.qry.>', ...topologyRequests], sub: ['licensing.>'] },
    // Serves its domain (requests, and its events through the outbox); reads the inventory's devices
    // for drafts; dead-letters scans it cannot use. Its scan consumer goes through the JetStream API.
    topology: { pub: ['topology.>', 'inventory.qry.>', deadLetters], sub: ['topology.>'] },
    // Reads the events it forwards through JetStream consumers (the JetStream API, common to all).
    webhooks: { pub: ['webhooks.>', deadLetters], sub: ['webhooks.>'] },
  };
  const p = own[role];
  return {
    pub: { allow: [...SERVICE_COMMON.pub, ...p.pub], ...(p.denyPub ? { deny: p.denyPub } : {}) },
    sub: { allow: [...SERVICE_COMMON.sub, ...p.sub] },
  };
}
