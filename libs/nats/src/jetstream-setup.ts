import { AckPolicy, DeliverPolicy, DiscardPolicy, JetStreamManager, NatsConnection, RetentionPolicy, StorageType, StreamConfig, nanos } from 'nats';
import type { ConsumerDefinition, StreamDefinition } from '@fleetcast/contracts';

/** What `ensureStreams` did to each stream. */
export interface EnsureStreamsResult {
  created: string[];
  /**
   * Streams whose limits or subjects differed from the definition and were changed on the server,
   * with the messages purged from subjects over a new per-subject limit.
   */
  updated: Array<{ name: string; changed: string[]; trimmed: number }>;
  unchanged: string[];
}

/** How streams are kept on the server: deployment settings, not part of a stream's contract. */
export interface StreamPlacement {
  /**
   * Copies of each stream on a JetStream cluster (1 on a single server; 3 on a 3-node core
   * cluster, so that losing a node loses nothing). Consumers follow their stream's count.
   */
  replicas?: number;
}

/** The server-side configuration of a stream definition (what `ensureStreams` creates or updates to). */
export function streamConfigOf(def: StreamDefinition, placement: StreamPlacement = {}) {
  return {
    name: def.name,
    num_replicas: placement.replicas ?? 1,
    subjects: def.subjects,
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    // Old messages make room for new ones: a publisher (the outbox relay, an agent) is never refused.
    discard: DiscardPolicy.Old,
    max_age: nanos(def.maxAgeSeconds * 1000),
    duplicate_window: nanos(def.duplicateWindowSeconds * 1000),
    max_msgs_per_subject: def.maxMsgsPerSubject,
    max_bytes: def.maxBytes,
  };
}

/** Keys of `desired` whose value differs on the server (subjects compared as sets). */
function differences(desired: ReturnType<typeof streamConfigOf>, current: Partial<StreamConfig>): string[] {
  const changed: string[] = [];
  for (const [key, value] of Object.entries(desired)) {
    const now = (current as Record<string, unknown>)[key];
    const same = Array.isArray(value) ? Array.isArray(now) && now.length === value.length && value.every((v) => now.includes(v)) : now === value;
    if (!same) changed.push(key);
  }
  return changed;
}

/**
 * Creates each stream, or updates it to the definition when it differs (idempotent; every service
 * may call it at start). An existing stream is updated in place, so new limits reach a running
 * server with the next service start, and a lower byte limit drops the oldest messages at once. A
 * new per-subject limit is applied to the messages already stored too: servers before 2.10 apply
 * one that replaces "no limit" only as each subject gets its next message (and a device that gets
 * none would keep its excess for the stream's whole retention), so subjects over it are purged
 * down to it here, once, keeping their newest messages. A new replica count is applied the same
 * way: a stream made on one server grows to three copies when the cluster's services restart with
 * `JETSTREAM_REPLICAS=3`.
 */
export async function ensureStreams(nc: NatsConnection, streams: StreamDefinition[], placement: StreamPlacement = {}): Promise<EnsureStreamsResult> {
  const jsm = await whileJetStreamSettles('the JetStream API', () => nc.jetstreamManager());
  const result: EnsureStreamsResult = { created: [], updated: [], unchanged: [] };
  for (const def of streams) {
    await whileJetStreamSettles(`stream ${def.name}`, () => ensureStream(jsm, def, placement, result));
  }
  return result;
}

/** The JetStream API's answers while a server or cluster is still starting (no meta leader, peers not current). */
const SETTLING = /timeout|503|no responders|insufficient resources|no suitable peers|temporarily unavailable|not current|leader/i;
/** How long start-up waits for JetStream to settle before giving up (a cluster elects leaders in seconds). */
const SETTLE_TIMEOUT_MS = 60_000;

/**
 * Runs a JetStream API step, again while the answer says JetStream is still settling (a cluster
 * that has not elected its leaders yet, a server still recovering its store, a request lost in a
 * leader change), up to a minute: a service that starts together with its NATS cluster waits for it
 * instead of failing its start. Any other error is thrown at once.
 */
export async function whileJetStreamSettles<T>(what: string, step: () => Promise<T>, timeoutMs = SETTLE_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      const message = (error as Error)?.message ?? String(error);
      if (!SETTLING.test(message) || Date.now() >= deadline) {
        throw new Error(`${what}: ${message}${attempt > 1 ? ` (after ${attempt} attempts while JetStream settled)` : ''}`, { cause: error });
      }
      await new Promise((r) => setTimeout(r, Math.min(250 * attempt, 2_000)));
    }
  }
}

async function ensureStream(jsm: JetStreamManager, def: StreamDefinition, placement: StreamPlacement, result: EnsureStreamsResult): Promise<void> {
  const config = streamConfigOf(def, placement);
  try {
    const info = await jsm.streams.info(def.name);
    const changed = differences(config, info.config);
    if (changed.length === 0) {
      result.unchanged.push(def.name);
      return;
    }
    await jsm.streams.update(def.name, config);
    const trimmed = changed.includes('max_msgs_per_subject') && def.maxMsgsPerSubject > 0 ? await trimSubjects(jsm, def.name, def.maxMsgsPerSubject) : 0;
    result.updated.push({ name: def.name, changed, trimmed });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    try {
      await jsm.streams.add(config);
      result.created.push(def.name);
    } catch (addError) {
      // Two instances starting at once: the other one created it.
      if (!/already in use|already exists/i.test((addError as Error).message)) throw addError;
      result.unchanged.push(def.name);
    }
  }
}

/** Purges every subject of a stream that holds more than `keep` messages down to its newest `keep`; returns how many went. */
async function trimSubjects(jsm: JetStreamManager, stream: string, keep: number): Promise<number> {
  const info = await jsm.streams.info(stream, { subjects_filter: '>' });
  let purged = 0;
  for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
    if (count > keep) purged += (await jsm.streams.purge(stream, { filter: subject, keep })).purged;
  }
  return purged;
}

/** Creates the durable pull consumer shared by every instance of a service (they split its messages). */
export async function ensureConsumer(jsm: JetStreamManager, def: ConsumerDefinition): Promise<void> {
  await whileJetStreamSettles(`consumer ${def.durableName}`, () => ensureConsumerOnce(jsm, def));
}

async function ensureConsumerOnce(jsm: JetStreamManager, def: ConsumerDefinition): Promise<void> {
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
