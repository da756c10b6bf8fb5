import { z } from 'zod';
import {
  BytesBySource,
  DeviceStatusV1,
  OUTPUT_TAIL_MAX_CHARS,
  TaskAssignedV1,
  bytesBySourceSchema,
  emptyBytesBySource,
  idSchema,
  reportedStateSchema,
  taskActionSchema,
} from '@fleetcast/contracts';
import { AgentErrorCode, FailureReason, IllegalTransitionError, clipReason } from './agent-errors';
import { BackoffPolicy, backoffDelayMs, stableFraction } from './backoff';

/**
 * The per-task state machine of the agent, as a pure reducer `(state, event, now) -> { state, effects }`.
 *
 *   (none) --assigned--> queued --download-progress--> downloading --download-complete--> cached
 *   cached --(install) install-started--> installing --install-finished--> succeeded | failed
 *   cached --(cache-only, same step)--> succeeded
 *   queued | downloading --download-failed--> (schedule-retry) ... --> failed DOWNLOAD.EXHAUSTED
 *
 * Decisions:
 * - `queued` means "assigned, no byte yet"; the first progress event moves it to `downloading`, so
 *   a device waiting for a source (later: a multicast session start delay) honestly shows `queued`.
 *   A download that completes without progress (content already in the cache) goes straight to `cached`.
 * - cache-only: `cached` is reported (it carries hashVerified) and, in the same step, `succeeded`,
 *   so the task summary counts the device as a success and the history still shows the cache step.
 * - A download failure is retried with capped exponential back-off until `maxAttempts` attempts
 *   have failed, then the task fails with DOWNLOAD.EXHAUSTED; a non-retryable failure fails at once.
 *   A retryable failure is reported at once with its reason (the state stays `queued` or
 *   `downloading`), when its code differs from the reason already reported, so that the task's
 *   device list says within seconds why a device does not progress; progress clears the reason.
 * - A failure that only the device can end (BLOCKING_CODES: CACHE.NO_SPACE, the cache cannot make
 *   room while other tasks' content is in use) blocks the task rather than counting as a download
 *   attempt: it is reported as above, tried again on a back-off that grows with the time blocked,
 *   and the task fails with that reason once it has been blocked `blockedFailAfterMs` (the last try
 *   lands on that moment). A network retry gives up after minutes; a full disk may never clear,
 *   and the operator should see a failure with the real reason, not DOWNLOAD.EXHAUSTED.
 * - `download-complete` with `hashVerified: false` fails with DOWNLOAD.HASH_MISMATCH and is not
 *   retried: every block was verified against the manifest, so a whole-file mismatch means the
 *   manifest disagrees with its own content ID, and fetching again cannot fix that.
 * - After a restart, an `installing` task fails with INSTALL.INTERRUPTED instead of running the
 *   installer again: the restart may have been the installer's own doing (a reboot), and running it
 *   in a loop is worse than asking the operator to re-issue the task.
 * - `resumed-after-restart` re-reports the current state, whatever it is: the report of the last
 *   step may have been lost with the process, and `seq` makes a repeat harmless at the service.
 * - A second `assigned` for a known task (JetStream redelivers) changes nothing and emits nothing.
 * - `abandoned` fails an unfinished task with its reason, whatever step it is at (the agent will not
 *   act on it any further); a finished task stays as it is.
 * - `cancelled` (a verified cancellation from the control plane) stops a task that has not started
 *   installing: `queued` or `downloading` (a pending retry too) abort the download and its LAN
 *   session and discard the partial download; `cached` drops the pending install (the verified
 *   content stays in the cache like any other). Reported as `cancelled` with TASK.CANCELLED. An
 *   install already running is not interrupted (killing an installer half-way can leave the
 *   system worse off than either outcome): its outcome is reported. A finished task stays as it is.
 *   Events of work that was under way when the cancel came (progress, completion, a retry timer)
 *   change nothing afterwards.
 * - `assigned` for a higher attempt (a retry from the control plane) starts a `failed` task again
 *   from `queued`, keeping the byte totals; in any other state it changes nothing.
 * - Any other event the state does not accept throws IllegalTransitionError naming both.
 */

export const taskStateSchema = reportedStateSchema;
export type TaskState = z.infer<typeof taskStateSchema>;

const failureReasonSchema = z.object({ code: z.string(), message: z.string() });

/** Everything the reducer knows about one task; plain JSON, persisted as-is so a restart resumes. */
export const taskLifecycleSchema = z.object({
  taskId: idSchema,
  deviceId: idSchema,
  action: taskActionSchema,
  successExitCodes: z.array(z.number().int()),
  state: taskStateSchema,
  /** Running totals of bytes received, by source, over all attempts. */
  bytes: bytesBySourceSchema,
  hashVerified: z.boolean(),
  /** Download attempts that failed so far (retryable ones). */
  downloadFailures: z.number().int().nonnegative(),
  /** When a scheduled retry is due; null when no retry is pending. */
  retryAtMs: z.number().nullable(),
  /** When bytes were last reported, for throttling progress reports. */
  lastBytesReportAtMs: z.number().nullable(),
  /** Since when the task is blocked (a BLOCKING_CODES failure with no progress since); null when not. Absent in states an earlier version saved. */
  blockedSinceMs: z.number().nullable().default(null),
  /** The control plane's attempt this state belongs to (1 unless retried). Absent in states an earlier version saved. */
  attempt: z.number().int().positive().default(1),
  reason: failureReasonSchema.nullable(),
  exitCode: z.number().int().nullable(),
  outputTail: z.string().nullable(),
});
export type TaskLifecycle = z.infer<typeof taskLifecycleSchema>;

export type LifecycleEvent =
  /** `attempt`: the control plane's attempt the assignment is for (absent: the first). */
  | { type: 'assigned'; task: TaskAssignedV1 & { attempt?: number } }
  /** Bytes received since the previous progress event (deltas; the reducer keeps the totals). */
  | { type: 'download-progress'; bytesBySource: Partial<BytesBySource> }
  | { type: 'download-complete'; hashVerified: boolean }
  | { type: 'download-failed'; reason: FailureReason; retryable: boolean }
  /** The timer of a `schedule-retry` effect fired. */
  | { type: 'retry-due' }
  | { type: 'install-started' }
  /** `failure` is set when the installer could not run at all (INSTALL.SPAWN_FAILED). */
  | { type: 'install-finished'; exitCode: number | null; outputTail: string; timedOut: boolean; failure?: FailureReason | null }
  | { type: 'resumed-after-restart' }
  /** The agent will not go on with the task (accepted from an unsigned assignment by an earlier version). */
  | { type: 'abandoned'; reason: FailureReason }
  /** The control plane cancelled the task (a cancellation verified against the pinned keys). */
  | { type: 'cancelled'; reason: FailureReason };

export type LifecycleEventType = LifecycleEvent['type'];

/** A status report to publish; the adapter adds task, device, `seq` and the time (see `toDeviceStatus`). */
export interface ReportEffect {
  type: 'report';
  state: TaskState;
  atMs: number;
  bytes: BytesBySource;
  hashVerified: boolean;
  reason: FailureReason | null;
  exitCode: number | null;
  outputTail: string | null;
}

export type LifecycleEffect =
  | ReportEffect
  | { type: 'start-download' }
  | { type: 'schedule-retry'; atMs: number; attempt: number }
  | { type: 'start-install' }
  /** Stop the task's download (and with it its LAN session) and its retry timer. */
  | { type: 'abort-download' }
  /** Remove the task's partial download (unless another unfinished task downloads the same content). */
  | { type: 'discard-partial' };

export interface LifecycleResult {
  state: TaskLifecycle;
  effects: LifecycleEffect[];
}

export interface LifecycleOptions {
  retry: BackoffPolicy;
  /** Download attempts in all (the first one included) before DOWNLOAD.EXHAUSTED. */
  maxDownloadAttempts: number;
  /** Least time between two `downloading` reports that only update bytes; null: report state changes only. */
  progressReportIntervalMs: number | null;
  /** How long a task may stay blocked (BLOCKING_CODES) before it fails with the blocking reason; 0 = at once. */
  blockedFailAfterMs: number;
}

/**
 * Failures that only a change on the device ends, not a retry of the network: the task is blocked
 * (see the decisions above). CACHE.NO_SPACE: the cache limit or the disk leaves no room, and the
 * content that fills it belongs to unfinished tasks (or the package is larger than the limit).
 */
export const BLOCKING_CODES: ReadonlySet<string> = new Set([AgentErrorCode.CacheNoSpace]);

/**
 * Defaults, resolved once (see `resolveLifecycleOptions`).
 * - 10 s doubling to a 5 min cap over 8 attempts gives roughly 15 minutes of trying: long enough to
 *   ride out an origin restart or a short WAN outage, short enough that an operator sees a failure
 *   the same working hour.
 * - Progress every 10 s: a package that crosses a branch's WAN in half a minute shows its bytes
 *   growing in the summary, and 10,000 devices downloading at once send ~1,000 reports/s, half the
 *   2,000 messages/s the control plane is sized for (it ingested 7,000 scans/s in bench:control-plane).
 */
export const DEFAULT_LIFECYCLE_OPTIONS: LifecycleOptions = {
  retry: { baseDelayMs: 10_000, maxDelayMs: 5 * 60_000 },
  maxDownloadAttempts: 8,
  progressReportIntervalMs: 10_000,
  // 10 minutes: room freed by a task that finishes meanwhile (its content is then evictable) is
  // seen at the next try; a cache that stays full is an operator's matter, reported as a failure
  // within the same quarter hour a network failure would take to exhaust its retries.
  blockedFailAfterMs: 10 * 60_000,
};

export function resolveLifecycleOptions(partial: Partial<LifecycleOptions> = {}): LifecycleOptions {
  const options = { ...DEFAULT_LIFECYCLE_OPTIONS, ...partial, retry: { ...DEFAULT_LIFECYCLE_OPTIONS.retry, ...partial.retry } };
  if (!Number.isInteger(options.maxDownloadAttempts) || options.maxDownloadAttempts < 1) {
    throw new RangeError(`maxDownloadAttempts must be a positive integer, got ${options.maxDownloadAttempts}`);
  }
  if (!Number.isFinite(options.blockedFailAfterMs) || options.blockedFailAfterMs < 0) {
    throw new RangeError(`blockedFailAfterMs must be a non-negative number, got ${options.blockedFailAfterMs}`);
  }
  return options;
}

const TERMINAL: ReadonlySet<TaskState> = new Set(['succeeded', 'failed', 'cancelled']);

/** The reason a cancelled task reports. */
export const CANCELLED_CODE = 'TASK.CANCELLED';

export function isTerminal(state: TaskState): boolean {
  return TERMINAL.has(state);
}

/**
 * Applies one event. `state` is null only for a task the agent has never seen; `now` is the time in
 * ms since the epoch, a parameter so that tests need no clock.
 */
export function reduceTaskLifecycle(
  state: TaskLifecycle | null,
  event: LifecycleEvent,
  now: number,
  options: LifecycleOptions = DEFAULT_LIFECYCLE_OPTIONS,
): LifecycleResult {
  if (state === null) {
    if (event.type !== 'assigned') throw new IllegalTransitionError(null, '(none)', event.type);
    const created = newLifecycle(event.task);
    return { state: created, effects: [report(created, now), { type: 'start-download' }] };
  }

  if (state.state === 'cancelled' && event.type !== 'resumed-after-restart') {
    // Work under way when the cancel came ends with events of its own: they change nothing now.
    return { state, effects: [] };
  }

  switch (event.type) {
    case 'assigned': {
      const attempt = event.task.attempt ?? 1;
      if (state.state !== 'failed' || attempt <= state.attempt) return { state, effects: [] };
      const again: TaskLifecycle = { ...newLifecycle(event.task), bytes: state.bytes, attempt };
      return { state: again, effects: [report(again, now), { type: 'start-download' }] };
    }

    case 'cancelled': {
      if (isTerminal(state.state) || state.state === 'installing') return { state, effects: [] };
      const next: TaskLifecycle = { ...state, state: 'cancelled', retryAtMs: null, blockedSinceMs: null, reason: clipReason({ code: CANCELLED_CODE, message: event.reason.message }) };
      const stop: LifecycleEffect[] = isDownloadPhase(state) ? [{ type: 'abort-download' }, { type: 'discard-partial' }] : [];
      return { state: next, effects: [...stop, report(next, now)] };
    }

    case 'download-progress': {
      if (!isDownloadPhase(state) || state.retryAtMs !== null) throw illegal(state, event);
      const bytes = addBytes(state.bytes, event.bytesBySource);
      // Bytes arrive: whatever held the task up is over, and the next report says so.
      const moving = { ...state, bytes, reason: null, blockedSinceMs: null };
      if (state.state === 'queued') {
        const next: TaskLifecycle = { ...moving, state: 'downloading', lastBytesReportAtMs: now };
        return { state: next, effects: [report(next, now)] };
      }
      const interval = options.progressReportIntervalMs;
      // A reason reported while downloading is cleared by the next report, throttled or not.
      const due = (interval !== null && (state.lastBytesReportAtMs === null || now - state.lastBytesReportAtMs >= interval)) || state.reason !== null;
      const next: TaskLifecycle = { ...moving, lastBytesReportAtMs: due ? now : state.lastBytesReportAtMs };
      return { state: next, effects: due ? [report(next, now)] : [] };
    }

    case 'download-complete': {
      if (!isDownloadPhase(state) || state.retryAtMs !== null) throw illegal(state, event);
      if (!event.hashVerified) {
        return fail(state, now, {
          code: AgentErrorCode.DownloadHashMismatch,
          message: 'the downloaded file does not match its content ID although every block matched the manifest',
        });
      }
      const cached: TaskLifecycle = { ...state, state: 'cached', hashVerified: true, reason: null, blockedSinceMs: null };
      if (state.action === 'install') {
        return { state: cached, effects: [report(cached, now), { type: 'start-install' }] };
      }
      const done: TaskLifecycle = { ...cached, state: 'succeeded' };
      return { state: done, effects: [report(cached, now), report(done, now)] };
    }

    case 'download-failed': {
      if (!isDownloadPhase(state) || state.retryAtMs !== null) throw illegal(state, event);
      if (!event.retryable) return fail(state, now, event.reason);
      if (BLOCKING_CODES.has(event.reason.code)) return blocked(state, event.reason, now, options);
      const failures = state.downloadFailures + 1;
      if (failures >= options.maxDownloadAttempts) {
        return fail({ ...state, downloadFailures: failures }, now, {
          code: AgentErrorCode.DownloadExhausted,
          message: `download failed ${failures} times; last: ${event.reason.code}: ${event.reason.message}`,
        });
      }
      const jitter = stableFraction(`${state.deviceId}:${state.taskId}:${failures}`);
      const atMs = now + backoffDelayMs(failures, options.retry, jitter);
      const reason = clipReason({ code: event.reason.code, message: `${event.reason.message}; attempt ${failures + 1} of ${options.maxDownloadAttempts} at ${new Date(atMs).toISOString()}` });
      const next: TaskLifecycle = { ...state, downloadFailures: failures, retryAtMs: atMs, reason };
      return { state: next, effects: [...reportIfNew(state, next, now), { type: 'schedule-retry', atMs, attempt: failures + 1 }] };
    }

    case 'retry-due': {
      if (!isDownloadPhase(state) || state.retryAtMs === null) throw illegal(state, event);
      return { state: { ...state, retryAtMs: null }, effects: [{ type: 'start-download' }] };
    }

    case 'install-started': {
      if (state.state !== 'cached' || state.action !== 'install') throw illegal(state, event);
      const next: TaskLifecycle = { ...state, state: 'installing' };
      return { state: next, effects: [report(next, now)] };
    }

    case 'install-finished': {
      if (state.state !== 'installing') throw illegal(state, event);
      const withOutput: TaskLifecycle = { ...state, exitCode: event.exitCode, outputTail: clipTail(event.outputTail) };
      if (event.failure) return fail(withOutput, now, event.failure);
      if (event.timedOut) {
        return fail(withOutput, now, { code: AgentErrorCode.InstallTimeout, message: 'the install command ran past its timeout and was killed' });
      }
      if (event.exitCode === null || !state.successExitCodes.includes(event.exitCode)) {
        return fail(withOutput, now, {
          code: AgentErrorCode.InstallExitCode,
          message:
            event.exitCode === null
              ? 'the install command was ended by a signal'
              : `the install command exited with ${event.exitCode}; success is ${state.successExitCodes.join(', ')}`,
        });
      }
      const next: TaskLifecycle = { ...withOutput, state: 'succeeded' };
      return { state: next, effects: [report(next, now)] };
    }

    case 'resumed-after-restart':
      return resume(state, now);

    case 'abandoned':
      return isTerminal(state.state) ? { state, effects: [] } : fail(state, now, event.reason);
  }
}

/**
 * A blocking failure: reported when it is new, tried again after a delay as long as the time blocked
 * so far (between the retry policy's base and cap, with the same jitter as any retry), the last try
 * at the deadline, and failed with its own reason once the deadline has passed.
 */
function blocked(state: TaskLifecycle, cause: FailureReason, now: number, options: LifecycleOptions): LifecycleResult {
  const since = state.blockedSinceMs ?? now;
  const deadline = since + options.blockedFailAfterMs;
  const seconds = Math.round(options.blockedFailAfterMs / 1000);
  if (now >= deadline) {
    return fail(state, now, { code: cause.code, message: `${cause.message}; still so after ${Math.round((now - since) / 1000)} s` });
  }
  const nominal = Math.min(Math.max(now - since, options.retry.baseDelayMs), options.retry.maxDelayMs);
  const jitter = stableFraction(`${state.deviceId}:${state.taskId}:blocked`);
  const atMs = Math.min(now + Math.round(nominal / 2 + (nominal / 2) * jitter), deadline);
  const reason = clipReason({ code: cause.code, message: `${cause.message}; blocked: tried again until ${new Date(deadline).toISOString()} (${seconds} s), then the task fails` });
  const next: TaskLifecycle = { ...state, blockedSinceMs: since, retryAtMs: atMs, reason };
  return { state: next, effects: [...reportIfNew(state, next, now), { type: 'schedule-retry', atMs, attempt: state.downloadFailures + 1 }] };
}

/** A report of `next` when its reason code is not the one `before` already reported (each retry would say the same). */
function reportIfNew(before: TaskLifecycle, next: TaskLifecycle, now: number): ReportEffect[] {
  return before.reason?.code === next.reason?.code ? [] : [report(next, now)];
}

function resume(state: TaskLifecycle, now: number): LifecycleResult {
  switch (state.state) {
    case 'queued':
    case 'downloading':
      // The partial file and its verified-block record survived: the download continues, not restarts.
      if (state.retryAtMs !== null && state.retryAtMs > now) {
        return { state, effects: [report(state, now), { type: 'schedule-retry', atMs: state.retryAtMs, attempt: state.downloadFailures + 1 }] };
      }
      return { state: { ...state, retryAtMs: null }, effects: [report(state, now), { type: 'start-download' }] };
    case 'cached':
      // Only install tasks rest in `cached` (cache-only moves on in the same step).
      return { state, effects: [report(state, now), { type: 'start-install' }] };
    case 'installing':
      return fail(state, now, {
        code: AgentErrorCode.InstallInterrupted,
        message: 'the agent restarted while the install command ran; it is not run again',
      });
    case 'succeeded':
    case 'failed':
    case 'cancelled':
      return { state, effects: [report(state, now)] };
  }
}

function newLifecycle(task: TaskAssignedV1 & { attempt?: number }): TaskLifecycle {
  return {
    taskId: task.taskId,
    deviceId: task.deviceId,
    action: task.action,
    successExitCodes: [...task.package.successExitCodes],
    state: 'queued',
    bytes: emptyBytesBySource(),
    hashVerified: false,
    downloadFailures: 0,
    retryAtMs: null,
    lastBytesReportAtMs: null,
    blockedSinceMs: null,
    attempt: task.attempt ?? 1,
    reason: null,
    exitCode: null,
    outputTail: null,
  };
}

function isDownloadPhase(state: TaskLifecycle): boolean {
  return state.state === 'queued' || state.state === 'downloading';
}

function fail(state: TaskLifecycle, now: number, reason: FailureReason): LifecycleResult {
  const next: TaskLifecycle = { ...state, state: 'failed', retryAtMs: null, blockedSinceMs: null, reason: clipReason(reason) };
  return { state: next, effects: [report(next, now)] };
}

function report(state: TaskLifecycle, now: number): ReportEffect {
  return {
    type: 'report',
    state: state.state,
    atMs: now,
    bytes: { ...state.bytes },
    hashVerified: state.hashVerified,
    reason: state.reason,
    exitCode: state.exitCode,
    outputTail: state.outputTail,
  };
}

function addBytes(total: BytesBySource, delta: Partial<BytesBySource>): BytesBySource {
  const add = (n: number | undefined) => (n !== undefined && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);
  return {
    origin: total.origin + add(delta.origin),
    parent: total.parent + add(delta.parent),
    multicast: total.multicast + add(delta.multicast),
    peer: total.peer + add(delta.peer),
  };
}

/** The end of the output is what explains a failure; the contract caps it. */
function clipTail(tail: string): string {
  return tail.length > OUTPUT_TAIL_MAX_CHARS ? tail.slice(-OUTPUT_TAIL_MAX_CHARS) : tail;
}

function illegal(state: TaskLifecycle, event: LifecycleEvent): IllegalTransitionError {
  const where = state.retryAtMs !== null && isDownloadPhase(state) ? `${state.state} (retry pending)` : state.state;
  return new IllegalTransitionError(state.taskId, where, event.type);
}

/** Builds the DeviceStatusV1 message of a report effect; `seq` comes from the persisted counter. */
export function toDeviceStatus(effect: ReportEffect, ids: { taskId: string; deviceId: string; seq: number }): DeviceStatusV1 {
  return {
    taskId: ids.taskId,
    deviceId: ids.deviceId,
    seq: ids.seq,
    state: effect.state,
    reportedAt: new Date(effect.atMs).toISOString(),
    bytes: { ...effect.bytes },
    reason: effect.reason === null ? null : clipReason(effect.reason),
    hashVerified: effect.hashVerified,
    exitCode: effect.exitCode,
    outputTail: effect.outputTail === null ? null : clipTail(effect.outputTail),
  };
}
