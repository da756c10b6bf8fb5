import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceStatusV1, OUTPUT_TAIL_MAX_CHARS, TaskAction, TaskAssignedV1, deviceStatusV1Schema } from '@fleetcast/contracts';
import { AgentErrorCode, IllegalTransitionError } from './agent-errors';
import {
  LifecycleEffect,
  LifecycleEvent,
  LifecycleOptions,
  TaskLifecycle,
  reduceTaskLifecycle,
  resolveLifecycleOptions,
  taskLifecycleSchema,
  toDeviceStatus,
} from './task-lifecycle';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const options: LifecycleOptions = resolveLifecycleOptions({
  retry: { baseDelayMs: 1000, maxDelayMs: 4000 },
  maxDownloadAttempts: 3,
  progressReportIntervalMs: 10_000,
  blockedFailAfterMs: 60_000,
});

function task(action: TaskAction, successExitCodes = [0, 3010]): TaskAssignedV1 {
  return {
    taskId: 'task-1',
    deviceId: 'device-1',
    action,
    package: {
      packageId: 'pkg-1',
      name: 'demo',
      version: '1.0.0',
      platform: 'linux',
      contentId: 'a'.repeat(64),
      size: 10,
      downloadUrl: 'http://origin.test/content/' + 'a'.repeat(64),
      installCommand: '/bin/true',
      installArgs: [],
      successExitCodes,
      timeoutSeconds: 60,
    },
    settings: {
      profileId: 'default',
      useMulticast: false,
      sessionStartDelaySeconds: 60,
      peerDownloadAllowed: false,
      lanRateLimitKbps: null,
      cacheSizeLimitBytes: null,
    },
    issuedAt: new Date(T0).toISOString(),
  };
}

/** Applies events `stepMs` apart from T0; returns the final state and the last step's effects. */
function run(action: TaskAction, events: LifecycleEvent[], successExitCodes?: number[], stepMs = 1000) {
  let state: TaskLifecycle | null = null;
  let effects: LifecycleEffect[] = [];
  let now = T0;
  for (const event of [{ type: 'assigned', task: task(action, successExitCodes) } as LifecycleEvent, ...events]) {
    ({ state, effects } = reduceTaskLifecycle(state, event, now, options));
    now += stepMs;
  }
  return { state: state as TaskLifecycle, effects, now };
}

/** The effects as a compact string: "report:cached,start-install". */
function brief(effects: LifecycleEffect[]): string {
  return effects.map((e) => (e.type === 'report' ? `report:${e.state}` : e.type)).join(',');
}

const progress = (origin: number): LifecycleEvent => ({ type: 'download-progress', bytesBySource: { origin } });
const complete: LifecycleEvent = { type: 'download-complete', hashVerified: true };
const retryable: LifecycleEvent = { type: 'download-failed', reason: { code: 'DOWNLOAD.TRUNCATED', message: 'cut' }, retryable: true };
const fatal: LifecycleEvent = { type: 'download-failed', reason: { code: 'DOWNLOAD.NOT_FOUND', message: '404' }, retryable: false };
const started: LifecycleEvent = { type: 'install-started' };
const finished = (exitCode: number | null, timedOut = false): LifecycleEvent => ({ type: 'install-finished', exitCode, outputTail: 'out', timedOut });
const resumed: LifecycleEvent = { type: 'resumed-after-restart' };
const retryDue: LifecycleEvent = { type: 'retry-due' };
const abandoned: LifecycleEvent = { type: 'abandoned', reason: { code: 'ASSIGNMENT.UNSIGNED', message: 'accepted unsigned' } };

interface Case {
  name: string;
  action: TaskAction;
  events: LifecycleEvent[];
  state: TaskLifecycle['state'];
  effects: string;
  reason?: string | null;
  successExitCodes?: number[];
  /** Time between events; 1 s unless given. */
  stepMs?: number;
  check?: (state: TaskLifecycle, effects: LifecycleEffect[]) => void;
}

const cases: Case[] = [
  { name: 'assigned: queued, reported, download starts', action: 'install', events: [], state: 'queued', effects: 'report:queued,start-download', reason: null },
  { name: 'first bytes: downloading', action: 'install', events: [progress(5)], state: 'downloading', effects: 'report:downloading' },
  {
    name: 'more bytes inside the report interval: no report, totals grow',
    action: 'install',
    events: [progress(5), progress(7)],
    state: 'downloading',
    effects: '',
    check: (s) => assert.deepEqual(s.bytes, { origin: 12, parent: 0, multicast: 0, peer: 0 }),
  },
  {
    name: 'bytes after the report interval: a progress report with the totals',
    action: 'install',
    events: [progress(5), ...Array.from({ length: 10 }, () => progress(1))],
    state: 'downloading',
    effects: 'report:downloading',
    check: (_s, e) => assert.deepEqual(e[0]?.type === 'report' && e[0].bytes, { origin: 15, parent: 0, multicast: 0, peer: 0 }),
  },
  {
    name: 'bytes by source add up separately; nonsense deltas are ignored',
    action: 'install',
    events: [
      { type: 'download-progress', bytesBySource: { origin: 3, peer: 4, parent: 6 } },
      { type: 'download-progress', bytesBySource: { multicast: 5, peer: -9, origin: Number.NaN, parent: 2 } },
    ],
    state: 'downloading',
    effects: '',
    check: (s) => assert.deepEqual(s.bytes, { origin: 3, parent: 8, multicast: 5, peer: 4 }),
  },
  {
    name: 'install: complete -> cached, hash verified, install starts',
    action: 'install',
    events: [progress(10), complete],
    state: 'cached',
    effects: 'report:cached,start-install',
    check: (s, e) => {
      assert.equal(s.hashVerified, true);
      assert.equal(e[0]?.type === 'report' && e[0].hashVerified, true);
    },
  },
  {
    name: 'cache-only: complete -> cached then succeeded in one step, nothing installed',
    action: 'cache-only',
    events: [progress(10), complete],
    state: 'succeeded',
    effects: 'report:cached,report:succeeded',
  },
  {
    name: 'content already cached: queued -> cached without progress',
    action: 'cache-only',
    events: [complete],
    state: 'succeeded',
    effects: 'report:cached,report:succeeded',
  },
  {
    name: 'whole-file hash mismatch: failed, not retried',
    action: 'install',
    events: [progress(10), { type: 'download-complete', hashVerified: false }],
    state: 'failed',
    effects: 'report:failed',
    reason: AgentErrorCode.DownloadHashMismatch,
  },
  { name: 'install started: installing', action: 'install', events: [complete, started], state: 'installing', effects: 'report:installing' },
  {
    name: 'exit code 0: succeeded with output',
    action: 'install',
    events: [complete, started, finished(0)],
    state: 'succeeded',
    effects: 'report:succeeded',
    reason: null,
    check: (s) => {
      assert.equal(s.exitCode, 0);
      assert.equal(s.outputTail, 'out');
    },
  },
  { name: 'exit code 3010 (listed as success): succeeded', action: 'install', events: [complete, started, finished(3010)], state: 'succeeded', effects: 'report:succeeded' },
  {
    name: 'exit code 1: failed INSTALL.EXIT_CODE',
    action: 'install',
    events: [complete, started, finished(1)],
    state: 'failed',
    effects: 'report:failed',
    reason: AgentErrorCode.InstallExitCode,
    check: (s) => assert.equal(s.exitCode, 1),
  },
  {
    name: 'custom success codes only: 0 is a failure when not listed',
    action: 'install',
    successExitCodes: [3010],
    events: [complete, started, { type: 'install-finished', exitCode: 0, outputTail: '', timedOut: false }],
    state: 'failed',
    effects: 'report:failed',
    reason: AgentErrorCode.InstallExitCode,
  },
  { name: 'killed by a signal: failed', action: 'install', events: [complete, started, finished(null)], state: 'failed', effects: 'report:failed', reason: AgentErrorCode.InstallExitCode },
  { name: 'timed out (even with exit 0): failed INSTALL.TIMEOUT', action: 'install', events: [complete, started, finished(0, true)], state: 'failed', effects: 'report:failed', reason: AgentErrorCode.InstallTimeout },
  {
    name: 'command not found: failed with the installer reason',
    action: 'install',
    events: [complete, started, { type: 'install-finished', exitCode: null, outputTail: '', timedOut: false, failure: { code: AgentErrorCode.InstallSpawnFailed, message: 'ENOENT' } }],
    state: 'failed',
    effects: 'report:failed',
    reason: AgentErrorCode.InstallSpawnFailed,
  },
  {
    name: 'retryable failure: reported at once with its reason, retry scheduled with back-off, state kept',
    action: 'install',
    events: [progress(3), retryable],
    state: 'downloading',
    effects: 'report:downloading,schedule-retry',
    reason: 'DOWNLOAD.TRUNCATED',
    check: (s, e) => {
      assert.ok(e[0]?.type === 'report' && e[0].reason?.code === 'DOWNLOAD.TRUNCATED' && /attempt 2 of 3/.test(e[0].reason.message), JSON.stringify(e[0]));
      const effect = e[1];
      assert.ok(effect?.type === 'schedule-retry');
      // now = T0 + 2 s; first failure: 1 s nominal, equal jitter -> between 0.5 s and 1 s later.
      assert.ok(effect.atMs >= T0 + 2000 + 500 && effect.atMs <= T0 + 2000 + 1000, String(effect.atMs - T0));
      assert.equal(effect.attempt, 2);
      assert.equal(s.retryAtMs, effect.atMs);
      assert.equal(s.downloadFailures, 1);
    },
  },
  { name: 'retry due: download starts again', action: 'install', events: [retryable, retryDue], state: 'queued', effects: 'start-download' },
  {
    name: 'the same failure again: not reported twice (the reason already says it)',
    action: 'install',
    events: [retryable, retryDue, retryable],
    state: 'queued',
    effects: 'schedule-retry',
    reason: 'DOWNLOAD.TRUNCATED',
  },
  {
    name: 'a failure of another kind: reported with the new reason',
    action: 'install',
    events: [retryable, retryDue, { type: 'download-failed', reason: { code: 'DOWNLOAD.NETWORK', message: 'reset' }, retryable: true }],
    state: 'queued',
    effects: 'report:queued,schedule-retry',
    reason: 'DOWNLOAD.NETWORK',
  },
  {
    name: 'bytes after a reported failure: the next report clears the reason, even inside the report interval',
    action: 'install',
    events: [progress(3), retryable, retryDue, progress(2)],
    state: 'downloading',
    effects: 'report:downloading',
    reason: null,
    check: (_s, e) => assert.equal(e[0]?.type === 'report' && e[0].reason, null),
  },
  {
    name: 'failures up to the limit: failed DOWNLOAD.EXHAUSTED naming the last cause',
    action: 'install',
    events: [retryable, retryDue, retryable, retryDue, retryable],
    state: 'failed',
    effects: 'report:failed',
    reason: AgentErrorCode.DownloadExhausted,
    check: (s) => assert.match(s.reason?.message ?? '', /3 times; last: DOWNLOAD\.TRUNCATED/),
  },
  {
    name: 'back-off grows with each failure',
    action: 'install',
    events: [retryable, retryDue, retryable],
    state: 'queued',
    effects: 'schedule-retry',
    check: (_s, e) => {
      const effect = e.find((x) => x.type === 'schedule-retry');
      // now = T0 + 3 s; second failure: 2 s nominal -> 1 s to 2 s later.
      assert.ok(effect?.type === 'schedule-retry' && effect.atMs >= T0 + 3000 + 1000 && effect.atMs <= T0 + 3000 + 2000);
    },
  },
  { name: 'non-retryable failure: failed at once with its reason', action: 'install', events: [progress(1), fatal], state: 'failed', effects: 'report:failed', reason: 'DOWNLOAD.NOT_FOUND' },
  {
    name: 'a long reason is clipped to the contract limits',
    action: 'install',
    events: [{ type: 'download-failed', reason: { code: 'X'.repeat(300), message: 'm'.repeat(5000) }, retryable: false }],
    state: 'failed',
    effects: 'report:failed',
    check: (s) => {
      assert.equal(s.reason?.code.length, 100);
      assert.equal(s.reason?.message.length, 2000);
    },
  },
  {
    name: 'a second assignment of a known task (redelivery) changes nothing',
    action: 'install',
    events: [progress(4), { type: 'assigned', task: task('install') }],
    state: 'downloading',
    effects: '',
    check: (s) => assert.equal(s.bytes.origin, 4),
  },
  { name: 'restart while queued: re-report, download again', action: 'install', events: [resumed], state: 'queued', effects: 'report:queued,start-download' },
  {
    name: 'restart mid-download: bytes kept, download resumes',
    action: 'install',
    events: [progress(5), resumed],
    state: 'downloading',
    effects: 'report:downloading,start-download',
    check: (s) => assert.equal(s.bytes.origin, 5),
  },
  {
    name: 'restart with a retry not yet due: the same timer is scheduled again',
    action: 'install',
    events: [retryable, resumed],
    stepMs: 100,
    state: 'queued',
    effects: 'report:queued,schedule-retry',
    check: (s, e) => assert.equal(e[1]?.type === 'schedule-retry' && e[1].atMs, s.retryAtMs),
  },
  {
    name: 'restart with a retry overdue: download starts at once',
    action: 'install',
    events: [retryable, resumed],
    state: 'queued',
    effects: 'report:queued,start-download',
    check: (s) => assert.equal(s.retryAtMs, null),
  },
  { name: 'restart in cached (install): install starts', action: 'install', events: [complete, resumed], state: 'cached', effects: 'report:cached,start-install' },
  { name: 'restart while installing: failed INSTALL.INTERRUPTED, never run twice', action: 'install', events: [complete, started, resumed], state: 'failed', effects: 'report:failed', reason: AgentErrorCode.InstallInterrupted },
  { name: 'restart after success: final state re-reported', action: 'cache-only', events: [complete, resumed], state: 'succeeded', effects: 'report:succeeded' },
  { name: 'restart after failure: final state re-reported', action: 'install', events: [fatal, resumed], state: 'failed', effects: 'report:failed' },
  { name: 'abandoned while queued: failed with its reason', action: 'install', events: [abandoned], state: 'failed', effects: 'report:failed', reason: 'ASSIGNMENT.UNSIGNED' },
  { name: 'abandoned in cached (install): failed, nothing runs', action: 'install', events: [complete, abandoned], state: 'failed', effects: 'report:failed', reason: 'ASSIGNMENT.UNSIGNED' },
  { name: 'abandoned with a retry pending: failed', action: 'install', events: [retryable, abandoned], state: 'failed', effects: 'report:failed', reason: 'ASSIGNMENT.UNSIGNED', check: (s) => assert.equal(s.retryAtMs, null) },
  { name: 'abandoned after success: stays succeeded, nothing reported', action: 'cache-only', events: [complete, abandoned], state: 'succeeded', effects: '' },
];

for (const c of cases) {
  test(`lifecycle: ${c.name}`, () => {
    const { state, effects } = run(c.action, c.events, c.successExitCodes, c.stepMs);
    assert.equal(state.state, c.state);
    assert.equal(brief(effects), c.effects);
    if (c.reason !== undefined) assert.equal(state.reason?.code ?? null, c.reason);
    // Whatever happened, the state stays persistable and every report a valid contract message.
    assert.ok(taskLifecycleSchema.safeParse(JSON.parse(JSON.stringify(state))).success, 'state round-trips through JSON');
    for (const effect of effects) {
      if (effect.type !== 'report') continue;
      const message: DeviceStatusV1 = toDeviceStatus(effect, { taskId: state.taskId, deviceId: state.deviceId, seq: 1 });
      assert.ok(deviceStatusV1Schema.safeParse(message).success, JSON.stringify(message));
    }
    c.check?.(state, effects);
  });
}

const noSpace: LifecycleEvent = { type: 'download-failed', reason: { code: AgentErrorCode.CacheNoSpace, message: 'the cache cannot make room' }, retryable: true };
const network: LifecycleEvent = { type: 'download-failed', reason: { code: 'DOWNLOAD.NETWORK', message: 'reset' }, retryable: true };

interface BlockedCase {
  name: string;
  /** Events at their time (ms after T0); the assignment is at T0. */
  events: Array<[number, LifecycleEvent]>;
  state: TaskLifecycle['state'];
  effects: string;
  reason: string | null;
  blockedSinceMs: number | null;
  /** The scheduled retry of the last step, as [earliest, latest] ms after T0. */
  retryWithin?: [number, number];
  options?: Partial<LifecycleOptions>;
  check?: (state: TaskLifecycle, effects: LifecycleEffect[]) => void;
}

/** Blocked tasks (CACHE.NO_SPACE) with blockedFailAfterMs = 60 s, retries 1 s doubling to 4 s. */
const blockedCases: BlockedCase[] = [
  {
    name: 'no space: reported at once as queued with the reason, tried again soon; not a download attempt',
    events: [[1000, noSpace]],
    state: 'queued',
    effects: 'report:queued,schedule-retry',
    reason: AgentErrorCode.CacheNoSpace,
    blockedSinceMs: 1000,
    retryWithin: [1500, 2000],
    check: (s, e) => {
      assert.equal(s.downloadFailures, 0);
      assert.ok(e[0]?.type === 'report' && /then the task fails/.test(e[0].reason?.message ?? ''), 'the report says what happens next');
    },
  },
  {
    name: 'still no space: not reported again; the next try waits as long as the task was blocked, up to the cap',
    events: [[1000, noSpace], [2000, retryDue], [11_000, noSpace]],
    state: 'queued',
    effects: 'schedule-retry',
    reason: AgentErrorCode.CacheNoSpace,
    blockedSinceMs: 1000,
    retryWithin: [13_000, 15_000],
  },
  {
    name: 'blocked many times: never DOWNLOAD.EXHAUSTED (3 attempts), the block has its own deadline',
    events: [[1000, noSpace], [2000, retryDue], [3000, noSpace], [5000, retryDue], [6000, noSpace], [9000, retryDue], [10_000, noSpace], [14_000, retryDue], [15_000, noSpace]],
    state: 'queued',
    effects: 'schedule-retry',
    reason: AgentErrorCode.CacheNoSpace,
    blockedSinceMs: 1000,
  },
  {
    name: 'the last try lands on the deadline, never after it',
    events: [[1000, noSpace], [2000, retryDue], [60_500, noSpace]],
    state: 'queued',
    effects: 'schedule-retry',
    reason: AgentErrorCode.CacheNoSpace,
    blockedSinceMs: 1000,
    retryWithin: [61_000, 61_000],
  },
  {
    name: 'blocked past the deadline: failed with the blocking reason, saying how long',
    events: [[1000, noSpace], [2000, retryDue], [61_000, noSpace]],
    state: 'failed',
    effects: 'report:failed',
    reason: AgentErrorCode.CacheNoSpace,
    blockedSinceMs: null,
    check: (s) => assert.match(s.reason?.message ?? '', /still so after 60 s/),
  },
  {
    name: 'bytes arrive: no longer blocked, the reason cleared; a later block has a new deadline',
    events: [[1000, noSpace], [2000, retryDue], [50_000, progress(5)], [100_000, noSpace]],
    state: 'downloading',
    effects: 'report:downloading,schedule-retry',
    reason: AgentErrorCode.CacheNoSpace,
    blockedSinceMs: 100_000,
  },
  {
    name: 'a network failure in between does not restart the block deadline',
    events: [[1000, noSpace], [2000, retryDue], [30_000, network], [32_000, retryDue], [61_000, noSpace]],
    state: 'failed',
    effects: 'report:failed',
    reason: AgentErrorCode.CacheNoSpace,
    blockedSinceMs: null,
  },
  {
    name: 'blockedFailAfterMs 0: failed at the first block',
    events: [[1000, noSpace]],
    state: 'failed',
    effects: 'report:failed',
    reason: AgentErrorCode.CacheNoSpace,
    blockedSinceMs: null,
    options: { blockedFailAfterMs: 0 },
  },
  {
    name: 'restart while blocked: the reason re-reported, the same retry, the deadline kept',
    events: [[1000, noSpace], [1200, resumed]],
    state: 'queued',
    effects: 'report:queued,schedule-retry',
    reason: AgentErrorCode.CacheNoSpace,
    blockedSinceMs: 1000,
    retryWithin: [1500, 2000],
  },
];

for (const c of blockedCases) {
  test(`lifecycle, blocked: ${c.name}`, () => {
    const opts = resolveLifecycleOptions({ ...options, ...c.options });
    let { state, effects } = reduceTaskLifecycle(null, { type: 'assigned', task: task('install') }, T0, opts);
    for (const [at, event] of c.events) ({ state, effects } = reduceTaskLifecycle(state, event, T0 + at, opts));
    assert.equal(state.state, c.state);
    assert.equal(brief(effects), c.effects);
    assert.equal(state.reason?.code ?? null, c.reason);
    assert.equal(state.blockedSinceMs === null ? null : state.blockedSinceMs - T0, c.blockedSinceMs);
    if (c.retryWithin) {
      const retry = effects.find((e) => e.type === 'schedule-retry');
      assert.ok(retry?.type === 'schedule-retry', 'a retry is scheduled');
      const at = retry.atMs - T0;
      assert.ok(at >= c.retryWithin[0] && at <= c.retryWithin[1], `retry at ${at} ms, expected ${c.retryWithin.join('..')}`);
    }
    assert.ok(taskLifecycleSchema.safeParse(JSON.parse(JSON.stringify(state))).success, 'state round-trips through JSON');
    for (const effect of effects) {
      if (effect.type === 'report') assert.ok(deviceStatusV1Schema.safeParse(toDeviceStatus(effect, { taskId: state.taskId, deviceId: state.deviceId, seq: 1 })).success);
    }
    c.check?.(state, effects);
  });
}

test('lifecycle: a state saved by an earlier version (no blockedSinceMs) reads as not blocked', () => {
  const { state } = run('install', [progress(1)]);
  const { blockedSinceMs: _gone, ...older } = state;
  assert.equal(taskLifecycleSchema.parse(older).blockedSinceMs, null);
});

test('lifecycle: a state saved by an earlier version (no parent bytes) reads as 0 from the parent office', () => {
  const { state } = run('install', [progress(7)]);
  const { parent: _gone, ...olderBytes } = state.bytes;
  const read = taskLifecycleSchema.parse({ ...state, bytes: olderBytes });
  assert.deepEqual(read.bytes, { origin: 7, parent: 0, multicast: 0, peer: 0 });
});

interface IllegalCase {
  action: TaskAction;
  before: LifecycleEvent[] | null;
  event: LifecycleEvent;
  named: RegExp;
}

const illegal: IllegalCase[] = [
  { action: 'install', before: null, event: progress(1), named: /"download-progress" is not allowed in state "\(none\)"/ },
  { action: 'install', before: [], event: started, named: /"install-started" is not allowed in state "queued"/ },
  { action: 'install', before: [], event: finished(0), named: /"install-finished" .* "queued"/ },
  { action: 'install', before: [], event: retryDue, named: /"retry-due" .* "queued"/ },
  { action: 'install', before: [retryable], event: progress(1), named: /"download-progress" .* "queued \(retry pending\)"/ },
  { action: 'install', before: [retryable], event: retryable, named: /"download-failed" .* "queued \(retry pending\)"/ },
  { action: 'install', before: [retryable], event: complete, named: /"download-complete" .* "queued \(retry pending\)"/ },
  { action: 'install', before: [progress(1)], event: started, named: /"install-started" .* "downloading"/ },
  { action: 'install', before: [complete], event: progress(1), named: /"download-progress" .* "cached"/ },
  { action: 'install', before: [complete], event: complete, named: /"download-complete" .* "cached"/ },
  { action: 'install', before: [complete], event: finished(0), named: /"install-finished" .* "cached"/ },
  { action: 'install', before: [complete, started], event: started, named: /"install-started" .* "installing"/ },
  { action: 'install', before: [complete, started], event: fatal, named: /"download-failed" .* "installing"/ },
  { action: 'install', before: [complete, started, finished(0)], event: finished(0), named: /"install-finished" .* "succeeded"/ },
  { action: 'install', before: [complete, started, finished(0)], event: progress(1), named: /"download-progress" .* "succeeded"/ },
  { action: 'install', before: [fatal], event: retryDue, named: /"retry-due" .* "failed"/ },
  { action: 'install', before: [fatal], event: complete, named: /"download-complete" .* "failed"/ },
  { action: 'cache-only', before: [complete], event: started, named: /"install-started" .* "succeeded"/ },
];

for (const c of illegal) {
  const after = c.before === null ? '(nothing)' : c.before.map((e) => e.type).join(' > ') || 'assigned';
  test(`lifecycle: ${c.event.type} after ${after} (${c.action}) throws, naming state and event`, () => {
    const state = c.before === null ? null : run(c.action, c.before).state;
    assert.throws(
      () => reduceTaskLifecycle(state, c.event, T0 + 60_000, options),
      (error: unknown) => error instanceof IllegalTransitionError && error.code === AgentErrorCode.IllegalTransition && c.named.test(error.message),
    );
  });
}

test('lifecycle: the reducer never mutates the state it is given', () => {
  const { state } = run('install', [progress(5)]);
  const frozen = JSON.stringify(state);
  reduceTaskLifecycle(state, progress(5), T0 + 60_000, options);
  reduceTaskLifecycle(state, retryable, T0 + 60_000, options);
  assert.equal(JSON.stringify(state), frozen);
});

test('lifecycle: the same events at the same times give the same retry times (pure)', () => {
  const a = run('install', [retryable]);
  const b = run('install', [retryable]);
  assert.deepEqual(a.effects, b.effects);
});

test('lifecycle: progress reports can be turned off', () => {
  const quiet = resolveLifecycleOptions({ progressReportIntervalMs: null });
  let { state } = reduceTaskLifecycle(null, { type: 'assigned', task: task('install') }, T0, quiet);
  ({ state } = reduceTaskLifecycle(state, progress(1), T0, quiet));
  const later = reduceTaskLifecycle(state, progress(1), T0 + 3_600_000, quiet);
  assert.deepEqual(later.effects, []);
});

test('lifecycle: options reject a non-positive attempt limit and a negative block limit', () => {
  assert.throws(() => resolveLifecycleOptions({ maxDownloadAttempts: 0 }), RangeError);
  assert.throws(() => resolveLifecycleOptions({ blockedFailAfterMs: -1 }), RangeError);
});

test('toDeviceStatus: clips the output tail to the contract limit and stamps the time', () => {
  const { state } = run('install', [complete, started, { type: 'install-finished', exitCode: 1, outputTail: 'x'.repeat(OUTPUT_TAIL_MAX_CHARS + 50) + 'END', timedOut: false }]);
  assert.equal(state.outputTail?.length, OUTPUT_TAIL_MAX_CHARS);
  assert.ok(state.outputTail?.endsWith('END'), 'the end of the output is kept');
  const effect = { type: 'report' as const, state: state.state, atMs: T0, bytes: state.bytes, hashVerified: true, reason: null, exitCode: 1, outputTail: 'y'.repeat(10_000) };
  const message = toDeviceStatus(effect, { taskId: 't', deviceId: 'd', seq: 7 });
  assert.equal(message.outputTail?.length, OUTPUT_TAIL_MAX_CHARS);
  assert.equal(message.reportedAt, '2025-01-01T00:00:00.000Z');
  assert.equal(message.seq, 7);
});

const cancel: LifecycleEvent = { type: 'cancelled', reason: { code: 'TASK.CANCELLED', message: 'cancelled by the control plane at 2025-01-01T00:00:00.000Z' } };
const effectTypes = (effects: LifecycleEffect[]) => effects.map((e) => (e.type === 'report' ? `report:${e.state}` : e.type));

test('cancelled: what it stops in each state, table-driven', () => {
  const table: Array<{ name: string; action: TaskAction; before: LifecycleEvent[]; state: string; effects: string[] }> = [
    { name: 'queued', action: 'install', before: [], state: 'cancelled', effects: ['abort-download', 'discard-partial', 'report:cancelled'] },
    { name: 'downloading', action: 'install', before: [{ type: 'download-progress', bytesBySource: { origin: 5 } }], state: 'cancelled', effects: ['abort-download', 'discard-partial', 'report:cancelled'] },
    {
      name: 'retry pending',
      action: 'install',
      before: [{ type: 'download-failed', reason: { code: 'DOWNLOAD.NETWORK', message: 'reset' }, retryable: true }],
      state: 'cancelled',
      effects: ['abort-download', 'discard-partial', 'report:cancelled'],
    },
    { name: 'cached, install pending', action: 'install', before: [{ type: 'download-complete', hashVerified: true }], state: 'cancelled', effects: ['report:cancelled'] },
    { name: 'installing (not interrupted)', action: 'install', before: [{ type: 'download-complete', hashVerified: true }, { type: 'install-started' }], state: 'installing', effects: [] },
    { name: 'succeeded', action: 'cache-only', before: [{ type: 'download-complete', hashVerified: true }], state: 'succeeded', effects: [] },
    { name: 'failed', action: 'install', before: [{ type: 'download-failed', reason: { code: 'MANIFEST.REJECTED', message: 'x' }, retryable: false }], state: 'failed', effects: [] },
  ];
  for (const row of table) {
    const { state, effects } = run(row.action, [...row.before, cancel]);
    assert.equal(state.state, row.state, row.name);
    assert.deepEqual(effectTypes(effects), row.effects, row.name);
    if (row.state === 'cancelled') {
      assert.equal(state.reason?.code, 'TASK.CANCELLED', row.name);
      assert.equal(state.retryAtMs, null, row.name);
      const [report] = effects.filter((e) => e.type === 'report');
      assert.equal(deviceStatusV1Schema.safeParse(toDeviceStatus(report as Extract<LifecycleEffect, { type: 'report' }>, { taskId: 'task-1', deviceId: 'device-1', seq: 9 })).success, true, row.name);
    }
  }
});

test('cancelled: events of work under way change nothing afterwards; a restart re-reports it; a second cancel is a repeat', () => {
  const { state } = run('install', [{ type: 'download-progress', bytesBySource: { origin: 5 } }, cancel]);
  for (const late of [
    { type: 'download-progress', bytesBySource: { origin: 7 } },
    { type: 'download-complete', hashVerified: true },
    { type: 'download-failed', reason: { code: 'DOWNLOAD.ABORTED', message: 'aborted' }, retryable: true },
    { type: 'retry-due' },
    { type: 'install-started' },
    cancel,
    { type: 'assigned', task: { ...task('install'), attempt: 2 } },
  ] as LifecycleEvent[]) {
    const next = reduceTaskLifecycle(state, late, T0 + 60_000, options);
    assert.deepEqual(next, { state, effects: [] }, late.type);
  }
  assert.deepEqual(effectTypes(reduceTaskLifecycle(state, { type: 'resumed-after-restart' }, T0 + 60_000, options).effects), ['report:cancelled']);
  assert.equal(state.bytes.origin, 5, 'bytes received before the cancel are kept and reported');
});

test('a retry: a failed task starts again from queued for a higher attempt, keeping its bytes; otherwise a repeat', () => {
  const { state: failed } = run('install', [
    { type: 'download-progress', bytesBySource: { origin: 4 } },
    { type: 'download-failed', reason: { code: 'MANIFEST.REJECTED', message: 'x' }, retryable: false },
  ]);
  assert.equal(failed.state, 'failed');
  assert.equal(failed.attempt, 1);
  const same = reduceTaskLifecycle(failed, { type: 'assigned', task: task('install') }, T0 + 10_000, options);
  assert.deepEqual(same, { state: failed, effects: [] }, 'the same attempt again is a repeat');
  const { state, effects } = reduceTaskLifecycle(failed, { type: 'assigned', task: { ...task('install'), attempt: 2 } }, T0 + 10_000, options);
  assert.deepEqual([state.state, state.attempt, state.reason, state.downloadFailures, state.bytes.origin], ['queued', 2, null, 0, 4]);
  assert.deepEqual(effectTypes(effects), ['report:queued', 'start-download']);
  // A task in progress is not restarted by a higher attempt.
  const { state: running } = run('install', [{ type: 'download-progress', bytesBySource: { origin: 1 } }]);
  assert.deepEqual(reduceTaskLifecycle(running, { type: 'assigned', task: { ...task('install'), attempt: 2 } }, T0, options).effects, []);
  // A state saved by an earlier version (no attempt) reads as attempt 1.
  const { attempt, ...old } = failed;
  assert.equal(taskLifecycleSchema.parse(old).attempt, 1);
  void attempt;
});
