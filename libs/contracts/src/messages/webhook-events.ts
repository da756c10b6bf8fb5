import { z } from 'zod';
import { idSchema, isoTimeSchema } from '../common';
import { ConsumerDefinition, Streams } from '../streams';
import { SubjectBase } from '../subjects';
import { ActivationCompleted } from './activation-events';
import { DeviceEnrolled, DeviceRetired } from './device-enrollment';
import { LicenseExpiring, LicenseOverage } from './license-events';
import { DeviceTaskFailed, TaskCompleted } from './task-events';
import { TopologyChanged } from './topology-events';

/**
 * The events external systems can subscribe to through webhooks, each with the NATS event it comes
 * from. Every source is published through its service's transactional outbox, so an event exists
 * exactly when the change it reports committed; the webhooks service reads each through a durable
 * consumer of its own (`webhookConsumerOf`).
 */
export const WebhookEvents = {
  'task.completed': { subjectBase: SubjectBase.taskCompleted, source: TaskCompleted, stream: Streams.taskEvents },
  'task.device.failed': { subjectBase: SubjectBase.deviceTaskFailed, source: DeviceTaskFailed, stream: Streams.taskEvents },
  'device.enrolled': { subjectBase: SubjectBase.deviceEnrolled, source: DeviceEnrolled, stream: Streams.licensingEvents },
  'device.retired': { subjectBase: SubjectBase.deviceRetired, source: DeviceRetired, stream: Streams.licensingEvents },
  'license.overage': { subjectBase: SubjectBase.licenseOverage, source: LicenseOverage, stream: Streams.licensingEvents },
  'license.expiring': { subjectBase: SubjectBase.licenseExpiring, source: LicenseExpiring, stream: Streams.licensingEvents },
  'activation.completed': { subjectBase: SubjectBase.activationCompleted, source: ActivationCompleted, stream: Streams.licensingEvents },
  'topology.changed': { subjectBase: SubjectBase.topologyChanged, source: TopologyChanged, stream: Streams.topologyEvents },
} as const;

export type WebhookEventType = keyof typeof WebhookEvents;
export const WEBHOOK_EVENT_TYPES = Object.keys(WebhookEvents) as [WebhookEventType, ...WebhookEventType[]];
export const webhookEventTypeSchema = z.enum(WEBHOOK_EVENT_TYPES);

/**
 * The webhooks service's durable consumer of one event type: shared by its instances (each event is
 * turned into deliveries once), one per type so that a type's bad message holds back no other.
 */
export function webhookConsumerOf(type: WebhookEventType): ConsumerDefinition {
  const event = WebhookEvents[type];
  return { stream: event.stream, durableName: `webhooks-${type.replace(/\./g, '-')}`, filterSubject: `${event.subjectBase}.>`, ackWaitSeconds: 30, maxDeliver: 20 };
}

/**
 * The JSON body of every delivery (what `Fleetcast-Signature` signs). `id` is the delivery's ID, the
 * same for every attempt: a receiver that remembers it handles each event once. `eventId` is the
 * event's own ID, shared by the deliveries of one event to several subscriptions.
 */
export const webhookDeliveryBodySchema = z.object({
  id: idSchema,
  type: webhookEventTypeSchema,
  eventId: z.string(),
  /** When the webhooks service took the event in. */
  createdAt: isoTimeSchema,
  /** The event's own fields (the schema of its source; `occurredAt` among them). */
  data: z.record(z.unknown()),
});
export type WebhookDeliveryBody = z.infer<typeof webhookDeliveryBodySchema>;
