import { SingleBar } from 'cli-progress';
import type { Task, TaskSummary } from '@fleetcast/contracts';
import { FleetcastApi } from '../api/api-client';
import { ApiError, CliError, TaskFailedError, UnreachableError } from '../errors';
import { formatTask, formatTaskList } from '../output/format';
import { bytesLine, exitCodeOf, isSettled, outcomeLine, settledCount, shouldPrintPlain, stateCountsLine, watchLine } from '../output/task-watch';
import { CliContext } from './cli-context';
import { createTaskRequest, PageOptions, pageQuery, TaskCreateOptions } from './requests';

export interface WatchOptions {
  watch?: boolean;
  /** Seconds between two polls of the summary. */
  interval?: number;
  /** Give up (exit 1) after this many seconds; none: until the task settles. */
  timeout?: number;
}

/** A non-interactive watch prints at least a line this often, changed or not. */
const PLAIN_HEARTBEAT_MS = 30_000;
/** Polls that find the server down or busy are tolerated this long (a gateway restart), then the watch ends with exit 3. */
const WATCH_OUTAGE_MS = 60_000;

export async function createTask(ctx: CliContext, options: TaskCreateOptions & WatchOptions): Promise<number> {
  const request = createTaskRequest(options);
  const api = await ctx.api();
  const task = await api.post<Task>('/v1/tasks', request);
  if (!options.watch) {
    ctx.result(task, () => `${formatTask(task, stateCountsLine(task.summary), bytesLine(task.summary))}\nwatch it: fleetcast tasks show ${task.id} --watch`);
    return 0;
  }
  ctx.note(`task ${task.id} created for ${task.summary.total} device${task.summary.total === 1 ? '' : 's'}`);
  return watchAndReport(ctx, api, task.id, options);
}

export async function showTask(ctx: CliContext, id: string, options: WatchOptions): Promise<number> {
  const api = await ctx.api();
  if (options.watch) return watchAndReport(ctx, api, id, options);
  const task = await api.get<Task>(`/v1/tasks/${encodeURIComponent(id)}`);
  ctx.result(task, () => formatTask(task, stateCountsLine(task.summary), bytesLine(task.summary)));
  return 0;
}

export async function listTasks(ctx: CliContext, options: PageOptions): Promise<number> {
  const list = await (await ctx.api()).get<{ items: Task[]; total: number }>('/v1/tasks', pageQuery(options));
  ctx.result(list, () => formatTaskList(list, options.offset));
  return 0;
}

/** Watches until every device is in a final state, then prints the task; 1 when any device failed. */
async function watchAndReport(ctx: CliContext, api: FleetcastApi, id: string, options: WatchOptions): Promise<number> {
  const summary = await watchTask(ctx, api, id, options);
  const task = await api.get<Task>(`/v1/tasks/${encodeURIComponent(id)}`);
  ctx.result(task, () => [formatTask(task, stateCountsLine(task.summary), bytesLine(task.summary)), outcomeLine(summary)].join('\n'));
  return exitCodeOf(summary);
}

/**
 * Polls the task's summary and shows its counts per state and bytes by source (a bar on a
 * terminal, a line per change otherwise, on stderr) until the task settles.
 */
export async function watchTask(ctx: CliContext, api: FleetcastApi, id: string, options: WatchOptions): Promise<TaskSummary> {
  const intervalMs = Math.round((options.interval ?? 2) * 1000);
  const deadline = options.timeout === undefined ? Infinity : ctx.io.now() + options.timeout * 1000;
  const path = `/v1/tasks/${encodeURIComponent(id)}/summary`;
  const bar = ctx.io.stderr.isTTY
    ? new SingleBar({ stream: ctx.io.stderr as NodeJS.WritableStream, format: 'devices [{bar}] {value}/{total} | {states} | {bytes}', hideCursor: true, barsize: 25, fps: 5 })
    : undefined;
  let previous: { line: string; atMs: number } | undefined;
  let downSince: number | undefined;
  let summary: TaskSummary | undefined;
  try {
    for (;;) {
      try {
        summary = await api.get<TaskSummary>(path);
        downSince = undefined;
      } catch (error) {
        // A gateway restart or a busy service should not end a long watch: keep polling a while.
        if (!transient(error) || !summary) throw error;
        downSince ??= ctx.io.now();
        if (ctx.io.now() - downSince > WATCH_OUTAGE_MS) throw error;
        if (!bar) ctx.note(`waiting for the server: ${(error as CliError).message}`);
      }
      if (summary) {
        const line = watchLine(summary);
        if (bar) {
          const payload = { states: stateCountsLine(summary), bytes: bytesLine(summary) };
          if (!previous) bar.start(summary.total, settledCount(summary), payload);
          else {
            bar.setTotal(summary.total);
            bar.update(settledCount(summary), payload);
          }
          previous = { line, atMs: ctx.io.now() };
        } else if (shouldPrintPlain(previous, line, ctx.io.now(), PLAIN_HEARTBEAT_MS)) {
          ctx.note(`task ${id}: ${line}`);
          previous = { line, atMs: ctx.io.now() };
        }
        if (isSettled(summary)) return summary;
      }
      if (ctx.io.now() + intervalMs > deadline) {
        throw new TaskFailedError(`task ${id} has not settled after ${options.timeout} s: ${summary ? watchLine(summary) : 'no summary yet'}`);
      }
      await ctx.io.sleep(intervalMs);
    }
  } finally {
    bar?.stop();
  }
}

function transient(error: unknown): boolean {
  return error instanceof UnreachableError || (error instanceof ApiError && (error.status === 503 || error.status === 502 || error.status === 504));
}
