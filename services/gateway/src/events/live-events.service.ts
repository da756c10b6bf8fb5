import { Inject, Injectable } from '@nestjs/common';
import { Subscription } from 'nats';
import { DeviceTaskChanged, deviceTaskChangedV1Schema, TaskChanged, taskChangedV1Schema } from '@fleetcast/contracts';
import { decodeJson, NatsConnection } from '@fleetcast/nats';
import { LOGGER, NATS_CONNECTION } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { z } from 'zod';

export type LiveEvent =
  | { kind: 'task'; data: z.infer<typeof taskChangedV1Schema> }
  | { kind: 'device'; data: z.infer<typeof deviceTaskChangedV1Schema> };

/**
 * The gateway's side of the tasks service's live updates: core NATS subscriptions, one pair per
 * open event stream (on one task's subjects, or every task's), each message checked against its
 * contract before a client sees it. `subscribe` returns the function that ends the pair: the stream
 * calls it when its client goes away, so no subscription outlives its client.
 */
@Injectable()
export class LiveEventsService {
  private open = 0;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Streams open now (their subscriptions held). */
  get streams(): number {
    return this.open;
  }

  /** Resolves once the server holds every subscription made so far (its round trip on this connection). */
  subscribed(): Promise<void> {
    return this.nc.flush();
  }

  subscribe(taskId: string | undefined, onEvent: (event: LiveEvent) => void): () => void {
    const subs: Subscription[] = [
      this.nc.subscribe(taskId ? TaskChanged.subject(taskId) : TaskChanged.allTasks(), {
        callback: (err, msg) => !err && this.deliver(msg.subject, msg.data, taskChangedV1Schema, (data) => onEvent({ kind: 'task', data })),
      }),
      this.nc.subscribe(taskId ? DeviceTaskChanged.subject(taskId) : DeviceTaskChanged.allTasks(), {
        callback: (err, msg) => !err && this.deliver(msg.subject, msg.data, deviceTaskChangedV1Schema, (data) => onEvent({ kind: 'device', data })),
      }),
    ];
    this.open += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.open -= 1;
      for (const sub of subs) sub.unsubscribe();
    };
  }

  /** Checks a message against its contract; one that fails is logged and dropped, the stream goes on. */
  private deliver<T extends z.ZodTypeAny>(subject: string, data: Uint8Array, schema: T, then: (value: z.infer<T>) => void): void {
    const decoded = decodeJson(data);
    const parsed = decoded.ok ? schema.safeParse(decoded.value) : null;
    if (!parsed?.success) {
      this.logger.warn({ subject, problem: decoded.ok ? parsed?.error.issues[0]?.message : decoded.error }, 'live event dropped: not its contract');
      return;
    }
    try {
      then(parsed.data);
    } catch (error) {
      this.logger.warn({ subject, err: (error as Error).message }, 'live event not delivered');
    }
  }
}
