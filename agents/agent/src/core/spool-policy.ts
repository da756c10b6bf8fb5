import { SubjectBase, TERMINAL_STATES, idSchema } from '@fleetcast/contracts';

/**
 * What the agent's outgoing spool (reports and scans waiting for NATS) keeps when it is full: a pure
 * decision over the spool's file names and sizes, so that it is tested as a table and the link only
 * lists, deletes and publishes.
 *
 * Every message is written to the spool before it is published, so in a long NATS outage the spool
 * is where it piles up. What may go, in this order:
 *
 * 1. `superseded`: a message a newer one in the spool makes useless. A task's report when a newer
 *    report of the same task waits (the service applies only the highest `seq`, and byte counts
 *    are running totals, so the newer report says everything the older one did); a scan when a
 *    newer scan waits (the inventory keeps only the highest `scanSeq`). Oldest first.
 * 2. `full`: still over a limit, the oldest report that is not final, or scan, even if it is the
 *    newest of its task: the task's next report brings its state again.
 * 3. Never: a final report (`succeeded`, `failed`) that is the newest of its task. It may be the only
 *    word of the task's outcome, and a device has few of them: the spool then stays over its limit.
 *    Files of an earlier agent version (whose kind the name does not say) are kept alike.
 *
 * The kind and task are in the file name, `<seq>-<kind>[-<taskId>].json`, so the decision needs no
 * file to be read: `<seq>` is 12 or more digits, the spool's order.
 */

export type SpoolKind = 'final' | 'report' | 'scan' | 'other';

export interface SpoolEntry {
  name: string;
  /** Order of writing (the name's number). */
  seq: number;
  kind: SpoolKind;
  /** The task of a report; null otherwise. */
  taskId: string | null;
  bytes: number;
}

export interface SpoolLimits {
  maxFiles: number;
  maxBytes: number;
}

/**
 * Defaults: 1,000 files and 16 MiB. A week offline is 168 hourly scans (all but the newest
 * superseded) and, per task, a few state reports plus a progress report per 10 s of download; 1,000
 * holds that for dozens of tasks at once, and the finals of hundreds. A report is 0.5-5 KB (with an
 * install's output tail) and a usual scan ~2 KB: 16 MiB is far above 1,000 of them, but stops
 * a few of the largest scans the contract allows (~700 KB) from growing the state dir further.
 */
export const DEFAULT_SPOOL_LIMITS: SpoolLimits = { maxFiles: 1000, maxBytes: 16 * 1024 * 1024 };

export type SpoolDropReason = 'superseded' | 'full';

export interface SpoolPlan {
  drop: Array<{ name: string; reason: SpoolDropReason }>;
  /** Over a limit after the drops: only final reports (and files of unknown kind) remain to blame. */
  overLimit: boolean;
}

const TERMINAL = new Set<string>(TERMINAL_STATES);
const SEQ_DIGITS = 12;
const NAME = /^(\d{12,})(?:-(final|report|scan|other)(?:-([A-Za-z0-9_-]{1,64}))?)?\.json$/;

/** The kind of a message from its subject and payload (a status report of a final state is `final`). */
export function spoolKindOf(subjectBase: string, payload: unknown): { kind: SpoolKind; taskId: string | null } {
  const body = (typeof payload === 'object' && payload !== null ? payload : {}) as { taskId?: unknown; state?: unknown };
  if (subjectBase === SubjectBase.deviceStatusReported) {
    const taskId = typeof body.taskId === 'string' && idSchema.safeParse(body.taskId).success ? body.taskId : null;
    if (taskId === null) return { kind: 'other', taskId: null };
    return { kind: typeof body.state === 'string' && TERMINAL.has(body.state) ? 'final' : 'report', taskId };
  }
  if (subjectBase === SubjectBase.inventoryScanSubmitted) return { kind: 'scan', taskId: null };
  return { kind: 'other', taskId: null };
}

/** The file name of the `seq`-th spooled message (without the `.json` / `.tmp` suffix). */
export function spoolBaseName(seq: number, kind: SpoolKind, taskId: string | null): string {
  return [String(seq).padStart(SEQ_DIGITS, '0'), kind, ...(taskId === null ? [] : [taskId])].join('-');
}

/** Reads a spool file name; null for anything that is not one (temporary files, strays). */
export function parseSpoolName(name: string, bytes: number): SpoolEntry | null {
  const match = NAME.exec(name);
  if (!match) return null;
  // A bare `<seq>.json` was written by an earlier agent version: kind unknown, kept like a final report.
  return { name, seq: Number(match[1]), kind: (match[2] as SpoolKind | undefined) ?? 'other', taskId: match[3] ?? null, bytes };
}

/** Which files to delete so that the spool is within `limits` (see the rules above). */
export function planSpool(entries: readonly SpoolEntry[], limits: SpoolLimits): SpoolPlan {
  const sorted = [...entries].sort((a, b) => a.seq - b.seq);
  let files = sorted.length;
  let bytes = sorted.reduce((sum, e) => sum + e.bytes, 0);
  const over = () => files > limits.maxFiles || bytes > limits.maxBytes;
  const drop: SpoolPlan['drop'] = [];
  if (!over()) return { drop, overLimit: false };

  // The newest entry of each task's reports, and the newest scan: what nothing supersedes.
  const newest = new Map<string, SpoolEntry>();
  for (const e of sorted) {
    const key = e.kind === 'scan' ? 'scan' : (e.kind === 'report' || e.kind === 'final') && e.taskId !== null ? `task:${e.taskId}` : null;
    if (key !== null) newest.set(key, e);
  }
  const newestSet = new Set(newest.values());
  const isNewest = (e: SpoolEntry) => newestSet.has(e);
  const superseded = sorted.filter((e) => (e.kind === 'report' || e.kind === 'final' || e.kind === 'scan') && !isNewest(e));
  const expendable = sorted.filter((e) => (e.kind === 'report' || e.kind === 'scan') && isNewest(e));
  for (const [candidates, reason] of [
    [superseded, 'superseded'],
    [expendable, 'full'],
  ] as const) {
    for (const e of candidates) {
      if (!over()) break;
      drop.push({ name: e.name, reason });
      files -= 1;
      bytes -= e.bytes;
    }
  }
  return { drop, overLimit: over() };
}
