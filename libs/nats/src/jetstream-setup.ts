import { AckPolicy, DeliverPolicy, JetStreamManager, NatsConnection, RetentionPolicy, StorageType, nanos } from 'nats';
import type { ConsumerDefinition, StreamDefinition } from '@fleetcast/contracts';

/** Creates each stream, or updates it to the definition (idempotent; every service may call it at start). */
export async function ensureStreams(nc: NatsConnection, streams: StreamDefinition[]): Promise<void> {
  const jsm = await nc.jetstreamManager();
  for (const def of streams) {
    const config = {
      name: def.name,
      subjects: def.subjects,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: nanos(def.maxAgeSeconds * 1000),
      duplicate_window: nanos(def.duplicateWindowSeconds * 1000),
    };
    try {
      await jsm.streams.info(def.name);
      await jsm.streams.update(def.name, config);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        await jsm.streams.add(config);
      } catch (addError) {
        // Two instances starting at once: the other one created it.
        if (!/already in use|already exists/i.test((addError as Error).message)) throw addError;
      }
    }
  }
}

/** Creates the durable pull consumer shared by every instance of a service (they split its messages). */
export async function ensureConsumer(jsm: JetStreamManager, def: ConsumerDefinition): Promise<void> {
  const config = {
    durable_name: def.durableName,
    filter_subject: def.filterSubject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(def.ackWaitSeconds * 1000),
    max_deliver: def.maxDeliver,
    // Enough in flight for batched ingestion across instances; bounded so one slow instance cannot hoard.
    max_ack_pending: 20_000,
  };
  try {
    await jsm.consumers.info(def.stream.name, def.durableName);
    await jsm.consumers.update(def.stream.name, def.durableName, config);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    try {
      await jsm.consumers.add(def.stream.name, config);
    } catch (addError) {
      if (!/already in use|already exists/i.test((addError as Error).message)) throw addError;
    }
  }
}

export function isNotFound(error: unknown): boolean {
  return /not found/i.test((error as Error)?.message ?? '');
}
