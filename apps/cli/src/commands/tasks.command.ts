import { SingleBar } from 'cli-progress';
import type { Task, TaskSummary } from '@fleetcast/contracts';
import { FleetcastApi } from '../api/api-client';
import { ApiError, CliError, TaskFailedError, UnreachableError } from '../errors';
import { formatTask, formatTaskList } from '../output/format';
import { bytesLine, exitCodeOf, isSettled, outcomeLine, settledCount, shouldPrintPlain, stateCountsLine, summaryOfEvent, watchLine } from '../output/task-watch';
import { CliContext } from './cli-context';
import { createTaskRequest, PageOptions, pageQuery, TaskCreateOptions } from './requests';

export interface WatchOptions {
  watch?: boolean;
  /** Seconds between two polls of the summary (when the server offers no live event stream). */
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

/** Cancels a task: its unfinished devices stop and report `cancelled`; 1 (the API's refusal) when it is over already. */
export async function cancelTask(ctx: CliContext, id: string): Promise<number> {
  const task = await (await ctx.api()).post<Task>(`/v1/tasks/${encodeURIComponent(id)}/cancel`, {});
  ctx.result(task, () => `${formatTask(task, stateCountsLine(task.summary), bytesLine(task.summary))}\ncancelled: ${task.summary.counts.cancelled ?? 0} device(s) stop and remove what they downloaded`);
  return 0;
}

export interface RetryOptions extends WatchOptions {
  /** Only these failed devices (default: every failed one). */
  devices?: string[];
}

/** Retries a task's failed devices (all, or `--devices`); with `--watch`, follows the task until it settles. */
export async function retryTask(ctx: CliContext, id: string, options: RetryOptions): Promise<number> {
  const api = await ctx.api();
  const devices = (options.devices ?? []).flatMap((d) => d.split(',')).map((d) => d.trim()).filter((d) => d.length > 0);
  const { task, retried } = await api.post<{ task: Task; retried: string[] }>(`/v1/tasks/${encodeURIComponent(id)}/retry`, devices.length > 0 ? { deviceIds: devices } : {});
  if (!options.watch) {
    ctx.result({ task, retried }, () => `${formatTask(task, stateCountsLine(task.summary), bytesLine(task.summary))}\nretried ${retried.length} device(s): ${retried.join(', ')}`);
    return 0;
  }
  ctx.note(`task ${id}: retried ${retried.length} device(s): ${retried.join(', ')}`);
  return watchAndReport(ctx, api, id, options);
}

/** Watches until every device is in a final state, then prints the task; 1 when any device failed. */
async function watchAndReport(ctx: CliContext, api: FleetcastApi, id: string, options: WatchOptions): Promise<number> {
  const summary = await watchTask(ctx, api, id, options);
  const task = await api.get<Task>(`/v1/tasks/${encodeURIComponent(id)}`);
  ctx.result(task, () => [formatTask(task, stateCountsLine(task.summary), bytesLine(task.summary)), outcomeLine(summary)].join('\n'));
  return exitCodeOf(summary);
}

/**
 * Shows the task's counts per state and bytes by source (a bar on a terminal, a line per change
 * otherwise, on stderr) until the task settles: from the gateway's live event stream when it offers
 * one, else (an older gateway, or a stream that broke off) by polling the summary.
 */
export async function watchTask(ctx: CliContext, api: FleetcastApi, id: string, options: WatchOptions): Promise<TaskSummary> {
  const deadline = options.timeout === undefined ? Infinity : ctx.io.now() + options.timeout * 1000;
  const display = new WatchDisplay(ctx, id);
  try {
    const live = await watchByEvents(ctx, api, id, options, deadline, display);
    if (live.settled) return live.settled;
    return await watchByPolling(ctx, api, id, options, deadline, display, live.last);
  } finally {
    display.stop();
  }
}

/** What a watch shows: a progress bar on a terminal, otherwise a line when the counts change (and a heartbeat line). */
class WatchDisplay {
  private readonly bar?: SingleBar;
  private previous?: { line: string; atMs: number };

  constructor(
    private readonly ctx: CliContext,
    private readonly id: string,
  ) {
    this.bar = ctx.io.stderr.isTTY
      ? new SingleBar({ stream: ctx.io.stderr as NodeJS.WritableStream, format: 'devices [{bar}] {value}/{total} | {states} | {bytes}', hideCursor: true, barsize: 25, fps: 5 })
      : undefined;
  }

  get interactive(): boolean {
    return this.bar !== undefined;
  }

  show(summary: TaskSummary): void {
    const line = watchLine(summary);
    if (this.bar) {
      const payload = { states: stateCountsLine(summary), bytes: bytesLine(summary) };
      if (!this.previous) this.bar.start(summary.total, settledCount(summary), payload);
      else {
        this.bar.setTotal(summary.total);
        this.bar.update(settledCount(summary), payload);
      }
      this.previous = { line, atMs: this.ctx.io.now() };
    } else if (shouldPrintPlain(this.previous, line, this.ctx.io.now(), PLAIN_HEARTBEAT_MS)) {
      this.ctx.note(`task ${this.id}: ${line}`);
      this.previous = { line, atMs: this.ctx.io.now() };
    }
  }

  stop(): void {
    this.bar?.stop();
  }
}

/**
 * Follows `GET /v1/tasks/{id}/events`: the snapshot, then each `task` event's counts. Returns the
 * settled summary, or (no stream offered, or it ended first) the last summary seen, for polling
 * to go on from. The deadline ends it as it ends a poll.
 */
async function watchByEvents(
  ctx: CliContext,
  api: FleetcastApi,
  id: string,
  options: WatchOptions,
  deadline: number,
  display: WatchDisplay,
): Promise<{ settled?: TaskSummary; last?: TaskSummary }> {
  const abort = new AbortController();
  const remaining = deadline - ctx.io.now();
  const timer = Number.isFinite(remaining) ? setTimeout(() => abort.abort(), Math.max(0, remaining)) : undefined;
  let last: TaskSummary | undefined;
  try {
    const events = await api.events(`/v1/tasks/${encodeURIComponent(id)}/events`, abort.signal);
    if (events === null) return {};
    for await (const event of events) {
      const next = summaryOfEvent(id, event, last);
      if (!next) continue;
      last = next;
      display.show(last);
      if (isSettled(last)) return { settled: last };
    }
    if (!display.interactive) ctx.note(`task ${id}: the live updates ended; polling the summary`);
  } catch (error) {
    if (abort.signal.aborted) throw new TaskFailedError(`task ${id} has not settled after ${options.timeout} s: ${last ? watchLine(last) : 'no summary yet'}`);
    // The task or the token refused: that is the answer. A broken stream: polling takes over.
    if (error instanceof ApiError && !transient(error)) throw error;
    if (!display.interactive) ctx.note(`task ${id}: live updates unavailable (${(error as Error).message}); polling the summary`);
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return { last };
}

/** Polls the task's summary every `--interval` seconds until it settles. */
async function watchByPolling(
  ctx: CliContext,
  api: FleetcastApi,
  id: string,
  options: WatchOptions,
  deadline: number,
  display: WatchDisplay,
  from: TaskSummary | undefined,
): Promise<TaskSummary> {
  const intervalMs = Math.round((options.interval ?? 2) * 1000);
  const path = `/v1/tasks/${encodeURIComponent(id)}/summary`;
  let downSince: number | undefined;
  let summary: TaskSummary | undefined = from;
  for (;;) {
    try {
      summary = await api.get<TaskSummary>(path);
      downSince = undefined;
    } catch (error) {
      // A gateway restart or a busy service should not end a long watch: keep polling a while.
      if (!transient(error) || !summary) throw error;
      downSince ??= ctx.io.now();
      if (ctx.io.now() - downSince > WATCH_OUTAGE_MS) throw error;
      if (!display.interactive) ctx.note(`waiting for the server: ${(error as CliError).message}`);
    }
    if (summary) {
      display.show(summary);
      if (isSettled(summary)) return summary;
    }
    if (ctx.io.now() + intervalMs > deadline) {
      throw new TaskFailedError(`task ${id} has not settled after ${options.timeout} s: ${summary ? watchLine(summary) : 'no summary yet'}`);
    }
    await ctx.io.sleep(intervalMs);
  }
}

function transient(error: unknown): boolean {
  return error instanceof UnreachableError || (error instanceof ApiError && (error.status === 503 || error.status === 502 || error.status === 504));
}
