import { SubjectBase } from './subjects';

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
}

const DAY = 24 * 3600;

export const Streams = {
  inventoryScans: {
    name: 'INVENTORY_SCANS',
    subjects: [`${SubjectBase.inventoryScanSubmitted}.>`],
    // Scans are superseded by the next one; a week covers a long outage of the inventory service.
    maxAgeSeconds: 7 * DAY,
    duplicateWindowSeconds: 120,
  },
  taskAssignments: {
    name: 'TASK_ASSIGNMENTS',
    subjects: [`${SubjectBase.taskAssigned}.>`],
    // An agent that was offline for up to 30 days still finds its assignments when it returns.
    maxAgeSeconds: 30 * DAY,
    duplicateWindowSeconds: 120,
  },
  deviceStatus: {
    name: 'TASK_STATUS',
    subjects: [`${SubjectBase.deviceStatusReported}.>`],
    maxAgeSeconds: 7 * DAY,
    duplicateWindowSeconds: 120,
  },
  deadLetters: {
    name: 'DEAD_LETTERS',
    subjects: [`${SubjectBase.deadLettered}.>`],
    maxAgeSeconds: 14 * DAY,
    duplicateWindowSeconds: 120,
  },
  licensingEvents: {
    name: 'LICENSING_EVENTS',
    subjects: [`${SubjectBase.licenseOverage}.>`, `${SubjectBase.licenseExpiring}.>`, `${SubjectBase.deviceEnrolled}.>`, `${SubjectBase.deviceRetired}.>`],
    // A handful of events a month; 90 days lets a billing or alerting consumer that was down for a
    // quarter's reporting period still read every overage and expiry notice.
    maxAgeSeconds: 90 * DAY,
    // The licensing outbox relay's message IDs: a row republished after a crash is dropped.
    duplicateWindowSeconds: 120,
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
} as const satisfies Record<string, ConsumerDefinition>;

/**
 * The consumer an agent creates to replay its own assignments after a (re)connect: named after the
 * device, so that NATS permissions can allow a device this consumer, on its own filter, and no other.
 */
export function assignmentReplayConsumerName(deviceId: string): string {
  return `replay-${deviceId}`;
}
