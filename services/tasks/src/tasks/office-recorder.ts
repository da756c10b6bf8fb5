import { Inject, Injectable } from '@nestjs/common';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { OfficeDirectory, officeToRecord } from '../swarm/office-directory';
import { AppliedReport, DeviceOfficeRecord, TasksRepository } from './tasks.repository';

/**
 * - 8 topology questions at once: a batch of first reports from a fleet's devices is placed in a
 *   few round trips without flooding the topology service (most answers come from the directory's
 *   cache, which swarm announces keep warm).
 * - 30 s without questions after one failed: a topology service that is down costs the status
 *   ingest one timeout per 30 s, not one per batch; the devices are asked at a later report.
 */
export const OFFICE_RECORDING = { parallel: 8, pauseAfterFailureMs: 30_000 };

/**
 * The devices of applied reports whose office to look up: those with none recorded whose report
 * changed their state (a device reports a handful of states per task, many progress reports in
 * between: at most a few questions per device and task while its office is unknown). One per
 * task and device.
 */
export function devicesToPlace(applied: ReadonlyArray<Pick<AppliedReport, 'taskId' | 'deviceId' | 'state' | 'previousState' | 'officeId'>>): Array<{ taskId: string; deviceId: string }> {
  const seen = new Set<string>();
  const out: Array<{ taskId: string; deviceId: string }> = [];
  for (const a of applied) {
    if (a.officeId !== null || a.state === a.previousState) continue;
    const key = `${a.taskId}/${a.deviceId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ taskId: a.taskId, deviceId: a.deviceId });
  }
  return out;
}

/**
 * Records the office of devices that report status without a recorded office (a device in the
 * office swarm has its office recorded by its announces; one in a multicast session or fetching
 * from the origin only reports), so that the task summary's per-office figures count every device
 * the topology placed.
 */
@Injectable()
export class OfficeRecorder {
  private pausedUntilMs = 0;

  constructor(
    private readonly offices: OfficeDirectory,
    private readonly tasks: TasksRepository,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Best effort: a failure is logged, and the devices are asked about at a later report. */
  async record(applied: readonly AppliedReport[], now = Date.now()): Promise<void> {
    if (now < this.pausedUntilMs) return;
    const wanted = devicesToPlace(applied);
    const records: DeviceOfficeRecord[] = [];
    for (let i = 0; i < wanted.length; i += OFFICE_RECORDING.parallel) {
      try {
        const standings = await Promise.all(wanted.slice(i, i + OFFICE_RECORDING.parallel).map(async (d) => ({ ...d, standing: await this.offices.standing(d.deviceId) })));
        for (const { taskId, deviceId, standing } of standings) {
          const office = officeToRecord(standing);
          if (office) records.push({ taskId, deviceId, office });
        }
      } catch (error) {
        this.pausedUntilMs = Date.now() + OFFICE_RECORDING.pauseAfterFailureMs;
        this.logger.warn({ err: (error as Error).message, pausedMs: OFFICE_RECORDING.pauseAfterFailureMs }, 'devices not placed in offices for the task summary');
        break;
      }
    }
    await this.tasks.recordOffices(records, true).catch((error: Error) => this.logger.warn({ err: error.message }, 'offices of devices not recorded'));
  }
}
