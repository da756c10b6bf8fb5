import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { TASKS_CONFIG, TasksConfig } from '../config/tasks.config';
import { OutboxService } from '../outbox/outbox.service';
import { nextResendAt, resendDelaysSeconds } from './assignment-resend';
import { TasksRepository } from './tasks.repository';
import { TasksService } from './tasks.service';

/** Most rows one tick claims, so a tick stays one short transaction. */
const CLAIM_LIMIT = 2000;

/**
 * Issues scheduled tasks when their start time comes, and sends an assignment again to a device that
 * has not acknowledged it in time (a connected agent that missed the live message), on the back-off
 * schedule of `assignment-resend.ts` and at most its number of times. Rows are claimed with SKIP
 * LOCKED, so several instances share the work without sending twice.
 */
@Injectable()
export class AssignmentScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private busy = false;
  /** The resend schedule, resolved once from the configuration. */
  private readonly resendDelays: number[];

  constructor(
    @Inject(TASKS_CONFIG) private readonly config: TasksConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly tasks: TasksRepository,
    private readonly service: TasksService,
    private readonly outbox: OutboxService,
  ) {
    this.resendDelays = resendDelaysSeconds(config.assignmentResend);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.config.schedulerIntervalMs);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async tick(now = new Date()): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const issued = await this.tasks.transaction(async (m) => {
        const due = await this.tasks.claimDueTasks(m, now, 100);
        for (const task of due) {
          await this.service.enqueueAssignments(m, task, await this.tasks.deviceIdsOf(m, task.id), now);
          await this.tasks.markSent(m, task.id, now, nextResendAt(now, 0, this.config.assignmentResend));
        }
        const validSince = new Date(now.getTime() - this.config.assignmentValiditySeconds * 1000);
        const unacknowledged = await this.tasks.claimUnacknowledged(m, now, CLAIM_LIMIT, validSince, this.resendDelays);
        const byTask = new Map<string, string[]>();
        for (const u of unacknowledged) byTask.set(u.taskId, [...(byTask.get(u.taskId) ?? []), u.deviceId]);
        for (const [taskId, deviceIds] of byTask) {
          const task = await this.tasks.findTask(taskId, m);
          if (task) await this.service.enqueueAssignments(m, task, deviceIds, now);
        }
        if (due.length || unacknowledged.length) {
          // How many of the resends were the last one a device gets (it is left to the stream's replay then).
          const last = unacknowledged.filter((u) => u.resend >= this.resendDelays.length).length;
          this.logger.info({ started: due.length, resent: unacknowledged.length, lastResends: last }, 'assignments issued');
        }
        return due.length + unacknowledged.length;
      });
      if (issued > 0) this.outbox.kick();
    } catch (error) {
      this.logger.warn({ err: error }, 'scheduler tick failed; will retry');
    } finally {
      this.busy = false;
    }
  }
}
