import { join } from 'node:path';
import { z } from 'zod';
import { readTextIfExists, writeFileAtomic } from './atomic-file';

/**
 * Assignments the agent refused, kept in `<stateDir>/rejected-assignments.json` so that
 * `fleetcast-agent status` shows them without the daemon: totals by reason code over the device's
 * life, and the most recent ones with their reasons. Each (task, reason) is recorded once per run
 * of the agent: a replayed stream brings the same copies again, which the metric
 * `fleetcast_agent_assignments_rejected_total` counts but this file does not repeat.
 */
export const REJECTIONS_FILE = 'rejected-assignments.json';

/** Enough recent entries to see a pattern (one task's copies, or every task after a key problem) without growing. */
export const RECENT_REJECTIONS = 20;

const rejectionSchema = z.object({
  at: z.string(),
  subject: z.string(),
  taskId: z.string().nullable(),
  code: z.string(),
  message: z.string(),
});
export type AssignmentRejection = z.infer<typeof rejectionSchema>;

const fileSchema = z.object({ total: z.number().int().nonnegative(), byCode: z.record(z.number().int().nonnegative()), recent: z.array(rejectionSchema) });
export type RejectionSummary = z.infer<typeof fileSchema>;

const empty = (): RejectionSummary => ({ total: 0, byCode: {}, recent: [] });

/** What the file says; an unreadable file reads as none (it is a record for people, not a decision). */
export async function readRejections(stateDir: string): Promise<RejectionSummary> {
  const text = await readTextIfExists(join(stateDir, REJECTIONS_FILE));
  if (text === null) return empty();
  try {
    const parsed = fileSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : empty();
  } catch {
    return empty();
  }
}

/** The daemon's side: appends in order, one write at a time. */
export class RejectionLog {
  private summary: RejectionSummary;
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly stateDir: string,
    initial: RejectionSummary,
  ) {
    this.summary = initial;
  }

  static async open(stateDir: string): Promise<RejectionLog> {
    return new RejectionLog(stateDir, await readRejections(stateDir));
  }

  snapshot(): RejectionSummary {
    return structuredClone(this.summary);
  }

  record(rejection: AssignmentRejection): Promise<void> {
    const s = this.summary;
    this.summary = {
      total: s.total + 1,
      byCode: { ...s.byCode, [rejection.code]: (s.byCode[rejection.code] ?? 0) + 1 },
      recent: [...s.recent, rejection].slice(-RECENT_REJECTIONS),
    };
    const body = JSON.stringify(this.summary, null, 2) + '\n';
    this.writing = this.writing.catch(() => undefined).then(() => writeFileAtomic(join(this.stateDir, REJECTIONS_FILE), body));
    return this.writing;
  }
}
