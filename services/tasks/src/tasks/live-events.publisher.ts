import { Inject, Injectable } from '@nestjs/common';
import { DEVICE_TASK_STATES, DeviceTaskChanged, DeviceTaskChangedV1, TaskChanged, TaskChangedV1 } from '@fleetcast/contracts';
import { encodeJson, NatsConnection } from '@fleetcast/nats';
import { LOGGER, NATS_CONNECTION } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { TaskCounts } from './tasks.repository';

/**
 * Publishes live updates of tasks (task and device-task changes) on core NATS after the change has
 * committed. Best effort by design: a lost update costs a listener one refresh (the task's summary
 * is the truth), never a change itself, so nothing here can fail the caller.
 */
@Injectable()
export class LiveEventsPublisher {
  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  publish(devices: Array<Omit<DeviceTaskChangedV1, 'at'>>, tasks: TaskCounts[], now = new Date()): void {
    const at = now.toISOString();
    try {
      for (const d of devices) this.nc.publish(DeviceTaskChanged.subject(d.taskId), encodeJson({ ...d, at } satisfies DeviceTaskChangedV1));
      for (const t of tasks) {
        const event: TaskChangedV1 = { taskId: t.taskId, status: t.status, total: t.total, counts: withZeros(t.counts), bytes: t.bytes, at };
        this.nc.publish(TaskChanged.subject(t.taskId), encodeJson(event));
      }
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'live task updates not published');
    }
  }
}

function withZeros(counts: TaskCounts['counts']): TaskChangedV1['counts'] {
  return Object.fromEntries(DEVICE_TASK_STATES.map((s) => [s, counts[s] ?? 0])) as TaskChangedV1['counts'];
}
