import { JsMsg, MsgHdrs, NatsConnection, ConsumerMessages } from 'nats';
import { z } from 'zod';
import {
  ConsumerDefinition,
  DeadLettered,
  DeadLetteredV1,
  ErrorBody,
  ErrorCode,
  FleetcastError,
  describeZodError,
  parseSubject,
} from '@fleetcast/contracts';
import { counter, Logger, Registry, SpanKind, withSpan } from '@fleetcast/telemetry';
import { decodeJson, encodeJson, tracedHeaders } from './connection';
import { ensureConsumer, whileJetStreamSettles } from './jetstream-setup';

export interface ConsumedMessage<T> {
  data: T;
  subject: string;
  headers?: MsgHdrs;
  /** Stream sequence: unique per message, stable across redeliveries. */
  streamSeq: number;
}

export interface DurableConsumerOptions<T> {
  nc: NatsConnection;
  consumer: ConsumerDefinition;
  /**
   * Schema for each subject version this consumer understands; any other version is dead-lettered.
   * What a schema reads may differ from what it gives (an added field with a default).
   */
  versions: Record<number, z.ZodType<T, z.ZodTypeDef, unknown>>;
  /**
   * Handles a batch of valid messages, typically in one database transaction. Must be idempotent:
   * after a crash between commit and ack, the same messages come again.
   */
  handleBatch(items: ConsumedMessage<T>[]): Promise<void>;
  logger: Logger;
  metrics: Registry;
  /** Largest batch handed to handleBatch (bigger batches amortise the transaction). */
  maxBatch?: number;
  /**
   * For device-scoped subjects: the device a message's payload speaks for. It must be the device
   * token of the subject, which the publisher's NATS permissions tie to its credentials; a message
   * whose payload names another device is dead-lettered (CONTRACT.DEVICE_MISMATCH).
   */
  deviceOf?: (value: T) => string;
}

/** Errors that another delivery will not fix: the message is dead-lettered at once. */
const PERMANENT = (error: unknown) =>
  error instanceof FleetcastError && error.code !== ErrorCode.Unavailable && error.code !== ErrorCode.Internal;

/** Redelivery back-off after a transient failure: grows with each attempt, capped at 30 s. */
const nakDelayMs = (deliveryCount: number) => Math.min(30_000, 250 * 2 ** Math.min(deliveryCount, 7));

/**
 * A JetStream durable pull consumer shared by every instance of a service: each message goes to one
 * instance, survives restarts, and is acknowledged only after its handler committed. A message that
 * is not JSON, has an unknown version or fails its schema goes to the dead-letter stream with the
 * reason and is counted; the loop never stops for bad input.
 */
export class DurableConsumer<T> {
  private stopped = false;
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  private readonly deadLetters;
  private readonly processed;

  constructor(private readonly options: DurableConsumerOptions<T>) {
    this.deadLetters = counter(options.metrics, 'fleetcast_dead_letters_total', 'Messages moved to the dead-letter stream', ['consumer', 'code']);
    this.processed = counter(options.metrics, 'fleetcast_messages_processed_total', 'Messages handled and acknowledged', ['consumer']);
  }

  async start(): Promise<void> {
    const jsm = await whileJetStreamSettles('the JetStream API', () => this.options.nc.jetstreamManager());
    await ensureConsumer(jsm, this.options.consumer);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.messages?.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { nc, consumer, logger } = this.options;
    const maxBatch = this.options.maxBatch ?? 500;
    while (!this.stopped) {
      try {
        const js = nc.jetstream();
        const c = await js.consumers.get(consumer.stream.name, consumer.durableName);
        this.messages = await c.consume({ max_messages: maxBatch * 2 });
        const batch: JsMsg[] = [];
        for await (const m of this.messages) {
          batch.push(m);
          // Flush when the batch is full or nothing else is queued: batches grow under load only.
          if (batch.length >= maxBatch || this.messages.getReceived() <= this.messages.getProcessed()) await this.process(batch.splice(0));
        }
      } catch (error) {
        if (this.stopped) break;
        logger.warn({ err: error, consumer: consumer.durableName }, 'consumer loop interrupted; resuming');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** Decodes one message against its subject version; never throws. */
  parse(subject: string, data: Uint8Array): { ok: true; value: T } | { ok: false; error: ErrorBody } {
    const { version } = parseSubject(subject);
    const schema = version === null ? undefined : this.options.versions[version];
    if (!schema) {
      return {
        ok: false,
        error: { code: ErrorCode.ContractUnsupportedVersion, message: `no handler for version ${version ?? '(none)'} of ${subject}` },
      };
    }
    const decoded = decodeJson(data);
    if (!decoded.ok) return { ok: false, error: { code: ErrorCode.ContractInvalid, message: decoded.error } };
    const result = schema.safeParse(decoded.value);
    if (!result.success) {
      const details = describeZodError(result.error);
      return { ok: false, error: { code: ErrorCode.ContractInvalid, message: `message does not match its schema: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details } };
    }
    const deviceOf = this.options.deviceOf;
    if (deviceOf) {
      const { deviceId } = parseSubject(subject);
      const named = deviceOf(result.data);
      if (deviceId !== named) {
        return { ok: false, error: { code: ErrorCode.DeviceMismatch, message: `the payload speaks for device ${named}, the subject (its publisher) is ${deviceId ?? '(none)'}` } };
      }
    }
    return { ok: true, value: result.data };
  }

  private async process(msgs: JsMsg[]): Promise<void> {
    const valid: Array<{ msg: JsMsg; item: ConsumedMessage<T> }> = [];
    for (const msg of msgs) {
      const parsed = this.parse(msg.subject, msg.data);
      if (!parsed.ok) {
        await this.deadLetter(msg, parsed.error);
        continue;
      }
      valid.push({ msg, item: { data: parsed.value, subject: msg.subject, headers: msg.headers, streamSeq: msg.seq } });
    }
    if (valid.length === 0) return;
    try {
      await this.handle(valid.map((v) => v.item));
      for (const v of valid) v.msg.ack();
      this.processed.inc({ consumer: this.options.consumer.durableName }, valid.length);
    } catch (error) {
      if (valid.length > 1) {
        // One bad message must not hold back the others: retry them one by one.
        for (const v of valid) await this.processOne(v.msg, v.item);
      } else {
        await this.failed(valid[0].msg, error);
      }
    }
  }

  private async processOne(msg: JsMsg, item: ConsumedMessage<T>): Promise<void> {
    try {
      await this.handle([item]);
      msg.ack();
      this.processed.inc({ consumer: this.options.consumer.durableName });
    } catch (error) {
      await this.failed(msg, error);
    }
  }

  private handle(items: ConsumedMessage<T>[]): Promise<void> {
    const name = `consume ${this.options.consumer.durableName}`;
    // One message: its trace continues here. A batch: each message may come from another trace, so
    // the span links to all of them instead of adopting one as its parent.
    const single = items.length === 1;
    const links = single ? undefined : items.flatMap((i) => (i.headers ? [i.headers] : []));
    return withSpan(name, { headers: single ? items[0].headers : undefined, links, kind: SpanKind.CONSUMER, attributes: { 'messaging.batch.message_count': items.length } }, () =>
      this.options.handleBatch(items),
    );
  }

  private async failed(msg: JsMsg, error: unknown): Promise<void> {
    const deliveries = msg.info.redeliveryCount;
    if (PERMANENT(error) || deliveries >= this.options.consumer.maxDeliver - 1) {
      const body = error instanceof FleetcastError ? error.toBody() : { code: ErrorCode.Internal, message: (error as Error).message };
      await this.deadLetter(msg, body);
      return;
    }
    this.options.logger.warn({ err: error, subject: msg.subject, deliveries }, 'handler failed; message will be redelivered');
    msg.nak(nakDelayMs(deliveries));
  }

  private async deadLetter(msg: JsMsg, reason: ErrorBody): Promise<void> {
    const consumer = this.options.consumer.durableName;
    const record: DeadLetteredV1 = {
      consumer,
      subject: msg.subject,
      reason,
      data: Buffer.from(msg.data).toString('base64'),
      headers: Object.fromEntries((msg.headers?.keys() ?? []).map((k) => [k, msg.headers!.values(k)])),
      deadLetteredAt: new Date().toISOString(),
    };
    try {
      await this.options.nc.jetstream().publish(DeadLettered.subject(consumer), encodeJson(record), {
        msgID: `dl-${consumer}-${msg.info.streamSequence}`,
        headers: tracedHeaders(),
      });
    } catch (error) {
      // The dead-letter stream is unreachable: keep the message rather than lose it.
      this.options.logger.error({ err: error, subject: msg.subject }, 'could not dead-letter a message; will retry');
      msg.nak(5000);
      return;
    }
    msg.term();
    this.deadLetters.inc({ consumer, code: reason.code });
    this.options.logger.warn({ subject: msg.subject, code: reason.code, reason: reason.message }, 'message dead-lettered');
  }
}
