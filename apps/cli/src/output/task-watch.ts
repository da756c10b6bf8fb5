import { DEVICE_TASK_STATES, TERMINAL_STATES, type TaskSummary } from '@fleetcast/contracts';
import { formatBytes } from './format';

/**
 * What `--watch` shows and decides, from a task summary: pure, so every rule (when a task is done,
 * which exit code it earns, when a plain line is worth printing) is tested without a server.
 */

/** Every device has reached a final state (`succeeded`, `failed` or `cancelled`): nothing will change any more. */
export function isSettled(summary: TaskSummary): boolean {
  return settledCount(summary) >= summary.total;
}

/** Devices in a final state. */
export function settledCount(summary: TaskSummary): number {
  return TERMINAL_STATES.reduce((n, state) => n + (summary.counts[state] ?? 0), 0);
}

/** 1 when any device failed or was cancelled: a script that watched a task can tell it did not fully happen. */
export function exitCodeOf(summary: TaskSummary): 0 | 1 {
  return (summary.counts.failed ?? 0) + (summary.counts.cancelled ?? 0) > 0 ? 1 : 0;
}

/**
 * The summary a live event brings (`GET /v1/tasks/{id}/events`): the `snapshot`'s (the whole task),
 * or a `task` event's counts and bytes over the last one (its subnets and reasons kept). Null for
 * events that change no count (`device`, `heartbeat`) and for anything unreadable.
 */
export function summaryOfEvent(taskId: string, event: { event: string; data: string }, last: TaskSummary | undefined): TaskSummary | null {
  let data: any;
  try {
    data = JSON.parse(event.data);
  } catch {
    return null;
  }
  if (typeof data !== 'object' || data === null) return null;
  if (event.event === 'snapshot' && typeof data.summary === 'object' && data.summary !== null) return data.summary as TaskSummary;
  if (event.event === 'task' && data.taskId === taskId && typeof data.total === 'number' && typeof data.counts === 'object') {
    return { ...(last ?? { taskId, subnets: [] }), taskId, total: data.total, counts: data.counts, bytes: data.bytes ?? last?.bytes ?? { origin: 0, parent: 0, multicast: 0, peer: 0 } };
  }
  return null;
}

/** `2 succeeded, 1 failed, 1 downloading` in the states' lifecycle order; states without devices left out. */
export function stateCountsLine(summary: TaskSummary): string {
  const parts = DEVICE_TASK_STATES.filter((s) => (summary.counts[s] ?? 0) > 0).map((s) => `${summary.counts[s]} ${s}`);
  return `${parts.length ? parts.join(', ') : 'none'} (of ${summary.total})`;
}

/**
 * Bytes the devices received, by source: what crossed the WAN (`origin`, `parent` office) against
 * the LAN's share. An older gateway's answer has no `parent`: 0.
 */
export function bytesLine(summary: TaskSummary): string {
  const { origin, parent, multicast, peer } = summary.bytes;
  return `origin ${formatBytes(origin)}, parent office ${formatBytes(parent ?? 0)}, multicast ${formatBytes(multicast)}, peer ${formatBytes(peer)}`;
}

/** One line for the watch display and the log of a non-interactive run. */
export function watchLine(summary: TaskSummary): string {
  return `${settledCount(summary)}/${summary.total} done: ${stateCountsLine(summary)}; ${bytesLine(summary)}`;
}

/** The final word of a watch, under the task (whose reasons say why devices failed). */
export function outcomeLine(summary: TaskSummary): string {
  const failed = summary.counts.failed ?? 0;
  const cancelled = summary.counts.cancelled ?? 0;
  if (failed === 0 && cancelled === 0) return `all ${summary.total} devices succeeded`;
  return [failed > 0 ? `${failed} of ${summary.total} devices failed` : '', cancelled > 0 ? `${cancelled} of ${summary.total} devices cancelled` : ''].filter(Boolean).join(', ');
}

/**
 * Whether a non-interactive watch prints a line now: when the counts changed, and otherwise at
 * most every `heartbeatMs` (a log that shows the watch is alive without a line a poll).
 */
export function shouldPrintPlain(previous: { line: string; atMs: number } | undefined, line: string, nowMs: number, heartbeatMs: number): boolean {
  if (!previous) return true;
  if (stripBytes(previous.line) !== stripBytes(line)) return true;
  return nowMs - previous.atMs >= heartbeatMs;
}

/** Bytes move on every poll during a download; only a change of state is worth its own line. */
function stripBytes(line: string): string {
  return line.replace(/; origin .*$/, '');
}
