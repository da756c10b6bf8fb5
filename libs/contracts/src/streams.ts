import { DEVICE_COMMANDS_PREFIX, SubjectBase } from './subjects';

/**
 * JetStream streams and durable consumers: what must not be lost.
 * Streams capture every version of a subject (`.>`), so a consumer sees a message of an unknown
 * version and can dead-letter it with a clear reason instead of the message vanishing unseen.
 */
export interface StreamDefinition {
  name: string;
  subjects: string[];
  /** Seconds a message is kept. */
  maxAgeSeconds: number;
  /** Window in which a repeated Nats-Msg-Id is dropped by the server (publisher retries). */
  duplicateWindowSeconds: number;
  /**
   * Messages kept per subject, the oldest dropped first; -1 = no limit. Set where a subject is one
   * device's and its messages supersede each other, so that devices that stay offline cannot grow
   * the stream without bound.
   */
  maxMsgsPerSubject: number;
  /**
   * Bytes the stream keeps at most, the oldest messages dropped first: what stops a runaway
   * publisher from filling the server's store (and every other stream with it). The streams' sum
   * stays under the server's `max_file_store` (10 GB in infra/nats/nats.conf).
   */
  maxBytes: number;
}

const DAY = 24 * 3600;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/**
 * Copies of assignments kept per device. A device that never acknowledges gets a task's assignment
 * 9 times (the first copy and 8 resends, the tasks service's default cap), so 128 keep every copy of
 * its last 14 tasks and the newest copy of far more (a device that acknowledges has one copy a
 * task): a device offline for the 30 days of an assignment's validity still replays every task
 * issued to it meanwhile unless it was given more than 14 and acknowledged none. At ~2 KB an
 * assignment, 10,000 devices fill at most 2.6 GB, inside the stream's byte limit.
 */
export const ASSIGNMENTS_KEPT_PER_DEVICE = 128;

export const Streams = {
  inventoryScans: {
    name: 'INVENTORY_SCANS',
    subjects: [`${SubjectBase.inventoryScanSubmitted}.>`],
    // Scans are superseded by the next one; a week covers a long outage of the inventory service.
    maxAgeSeconds: 7 * DAY,
    duplicateWindowSeconds: 120,
    // Only a device's newest scan counts (the highest scanSeq wins); a few more ride out a burst of
    // network changes while ingestion lags. 10,000 devices x 8 x a ~2 KB scan: 160 MB.
    maxMsgsPerSubject: 8,
    // 10,000 devices' usual scans (~2 KB) use 1 % of it; the largest the contract allows (~700 KB,
    // 10,000 cached content IDs) still fit for 3,000 devices.
    maxBytes: 2 * GiB,
  },
  taskAssignments: {
    name: 'TASK_ASSIGNMENTS',
    // Every command to a device (assignments, and the cancellations that travel with them), so an
    // agent replays both in order through one consumer (whose filter must lie within one subject).
    subjects: [`${DEVICE_COMMANDS_PREFIX}.>`],
    // An agent that was offline for up to 30 days still finds its assignments when it returns.
    maxAgeSeconds: 30 * DAY,
    duplicateWindowSeconds: 120,
    maxMsgsPerSubject: ASSIGNMENTS_KEPT_PER_DEVICE,
    // Above the 2.6 GB that 10,000 devices with a full history each can take (see the per-device limit).
    maxBytes: 3 * GiB,
  },
  deviceStatus: {
    name: 'TASK_STATUS',
    subjects: [`${SubjectBase.deviceStatusReported}.>`],
    maxAgeSeconds: 7 * DAY,
    duplicateWindowSeconds: 120,
    // No per-device limit: a device's subject carries the reports of all its tasks, and a final
    // report may be the only word of a task's outcome; the agent's own throttle (a progress report
    // every 10 s at most) bounds what one device sends. A rollout to 10,000 devices is ~20 reports
    // each of ~1 KB: 200 MB; 2 GiB holds days of ingestion outage.
    maxMsgsPerSubject: -1,
    maxBytes: 2 * GiB,
  },
  deadLetters: {
    name: 'DEAD_LETTERS',
    subjects: [`${SubjectBase.deadLettered}.>`],
    maxAgeSeconds: 14 * DAY,
    duplicateWindowSeconds: 120,
    // One subject per consumer: a per-subject limit would only drop evidence. Bad input at the rate
    // of every device's scans for two weeks is not what this stream is for; 512 MiB keeps plenty.
    maxMsgsPerSubject: -1,
    maxBytes: 512 * MiB,
  },
  licensingEvents: {
    name: 'LICENSING_EVENTS',
    subjects: [`${SubjectBase.licenseOverage}.>`, `${SubjectBase.licenseExpiring}.>`, `${SubjectBase.deviceEnrolled}.>`, `${SubjectBase.deviceRetired}.>`, `${SubjectBase.activationCompleted}.>`],
    // A handful of events a month; 90 days lets a billing or alerting consumer that was down for a
    // quarter's reporting period still read every overage and expiry notice.
    maxAgeSeconds: 90 * DAY,
    // The licensing outbox relay's message IDs: a row republished after a crash is dropped.
    duplicateWindowSeconds: 120,
    // A handful of events a month: neither limit is ever reached by design, both only stop a runaway.
    maxMsgsPerSubject: -1,
    maxBytes: 128 * MiB,
  },
  taskEvents: {
    name: 'TASK_EVENTS',
    subjects: [`${SubjectBase.taskCompleted}.>`, `${SubjectBase.deviceTaskFailed}.>`],
    // What external systems hear of tasks (webhooks): 30 days covers a receiver's long outage.
    maxAgeSeconds: 30 * DAY,
    // The tasks outbox relay's message IDs: a row republished after a crash is dropped.
    duplicateWindowSeconds: 120,
    maxMsgsPerSubject: -1,
    // A failed rollout to 10,000 devices is 10,000 events of ~600 bytes: 6 MB. 256 MiB holds a month
    // of such days and only stops a runaway.
    maxBytes: 256 * MiB,
  },
  auditLog: {
    name: 'AUDIT_LOG',
    subjects: [`${SubjectBase.auditRecorded}.>`],
    // A year: the span audits and incident reviews look back over.
    maxAgeSeconds: 365 * DAY,
    // The gateway publishes each record with its request ID; a retried publish is dropped.
    duplicateWindowSeconds: 120,
    // One subject per actor (an API token, or anonymous). A caller without a token can make the
    // gateway write as many records as it sends requests; this bound keeps its records (~700 bytes
    // each: 350 MB at most) from pushing the token holders' records out of the byte limit. At a
    // thousand changes a day, one token's year of records is 365,000.
    maxMsgsPerSubject: 500_000,
    // ~1.5 million records; with the other streams 9.1 GiB, under the server's 10 GB file store.
    maxBytes: 1 * GiB,
  },
  topologyEvents: {
    name: 'TOPOLOGY_EVENTS',
    subjects: [`${SubjectBase.topologyChanged}.>`, `${SubjectBase.devicePlaced}.>`],
    // Versions live in Postgres; the stream only has to carry events to consumers that were down.
    // A month covers a long outage of any of them.
    maxAgeSeconds: 30 * DAY,
    // The topology outbox relay's message IDs: a row republished after a crash is dropped.
    duplicateWindowSeconds: 120,
    // A device's placements supersede each other, and so do topology versions: 16 of each ride out
    // a burst. 10,000 devices x 16 x a ~300-byte placement: 48 MB.
    maxMsgsPerSubject: 16,
    // With the other streams 9.1 GiB, under the server's 10 GB file store.
    maxBytes: 256 * MiB,
  },
} as const satisfies Record<string, StreamDefinition>;

export interface ConsumerDefinition {
  stream: StreamDefinition;
  durableName: string;
  filterSubject: string;
  /** Seconds before an unacknowledged message is redelivered. */
  ackWaitSeconds: number;
  /** Deliveries before a message that keeps failing is dead-lettered by the consumer itself. */
  maxDeliver: number;
}

export const Consumers = {
  inventoryScanIngest: {
    stream: Streams.inventoryScans,
    durableName: 'inventory-scan-ingest',
    filterSubject: `${SubjectBase.inventoryScanSubmitted}.>`,
    ackWaitSeconds: 30,
    maxDeliver: 20,
  },
  deviceStatusIngest: {
    stream: Streams.deviceStatus,
    durableName: 'tasks-status-ingest',
    filterSubject: `${SubjectBase.deviceStatusReported}.>`,
    ackWaitSeconds: 30,
    maxDeliver: 20,
  },
  /**
   * The topology service places devices by the addresses of their scans: a second durable consumer
   * on INVENTORY_SCANS, independent of the inventory's (each sees every scan).
   */
  topologyScanPlacement: {
    stream: Streams.inventoryScans,
    durableName: 'topology-scan-placement',
    filterSubject: `${SubjectBase.inventoryScanSubmitted}.>`,
    ackWaitSeconds: 30,
    maxDeliver: 20,
  },
} as const satisfies Record<string, ConsumerDefinition>;

/**
 * The consumer an agent creates to replay its own assignments after a (re)connect: named after the
 * device, so that NATS permissions can allow a device this consumer, on its own filter, and no other.
 */
export function assignmentReplayConsumerName(deviceId: string): string {
  return `replay-${deviceId}`;
}
