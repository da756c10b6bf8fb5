import type { BytesBySource, DeviceTask, DeviceTaskState, Task, TaskSummary } from '@fleetcast/contracts';

/**
 * The task page's state: snapshots from the live-update source (polling today, a server-sent event
 * stream later: see `api/task-updates.ts`) folded by a pure reducer, and what the page shows derived
 * from it by pure functions.
 */

/** One look at a task: the task with its summary, and its devices (the first page). */
export interface TaskSnapshot {
  task: Task;
  devices: DeviceTask[];
  /** How many devices the task has; more than `devices.length` when only the first page was read. */
  devicesTotal: number;
}

export type TaskViewStatus = 'loading' | 'live' | 'settled' | 'error';

export interface TaskViewState {
  status: TaskViewStatus;
  snapshot: TaskSnapshot | null;
  /** When the last snapshot arrived (ms since the epoch). */
  updatedAt: number | null;
  /** The last failure to update; kept beside an older snapshot, which stays on screen. */
  error: string | null;
  /** Updates that failed in a row since the last good one. */
  failures: number;
}

export type TaskViewEvent = { type: 'snapshot'; snapshot: TaskSnapshot; at: number } | { type: 'error'; message: string; at: number };

export const initialTaskView: TaskViewState = { status: 'loading', snapshot: null, updatedAt: null, error: null, failures: 0 };

const TERMINAL: ReadonlySet<DeviceTaskState> = new Set<DeviceTaskState>(['succeeded', 'failed', 'cancelled']);

/** Every device of the task reached succeeded or failed: nothing will change any more. */
export function isSettled(summary: TaskSummary): boolean {
  return summary.total > 0 && summary.counts.succeeded + summary.counts.failed === summary.total;
}

export function reduceTaskView(state: TaskViewState, event: TaskViewEvent): TaskViewState {
  switch (event.type) {
    case 'snapshot': {
      // A snapshot older than the one shown (a slow answer overtaken by a newer one) is dropped.
      if (state.updatedAt !== null && event.at < state.updatedAt) return state;
      return {
        status: isSettled(event.snapshot.task.summary) ? 'settled' : 'live',
        snapshot: event.snapshot,
        updatedAt: event.at,
        error: null,
        failures: 0,
      };
    }
    case 'error':
      // Data already shown stays: a failed poll says so beside it, it does not blank the page.
      return { ...state, status: state.snapshot ? state.status : 'error', error: event.message, failures: state.failures + 1 };
  }
}

export interface TaskProgress {
  total: number;
  succeeded: number;
  failed: number;
  /** Devices not yet in a final state. */
  inFlight: number;
  /** Devices in a final state, percent (floored). */
  percentDone: number;
}

export function progressOf(summary: TaskSummary): TaskProgress {
  // A server from before cancellation reports no `cancelled` count.
  const done = summary.counts.succeeded + summary.counts.failed + (summary.counts.cancelled ?? 0);
  return {
    total: summary.total,
    succeeded: summary.counts.succeeded,
    failed: summary.counts.failed,
    inFlight: summary.total - done,
    percentDone: summary.total > 0 ? Math.floor((done / summary.total) * 100) : 0,
  };
}

/** What a device's state means to an operator, when its last report gave no reason of its own. */
const STATE_MEANING: Record<DeviceTaskState, string> = {
  pending: 'waiting for the device to take the assignment (an offline device gets it when it reconnects)',
  queued: 'accepted; waiting for its start time, its LAN session or room in its cache',
  downloading: 'downloading and verifying blocks',
  cached: 'the package is in its cache, verified',
  installing: 'running the installer',
  succeeded: 'done',
  failed: 'failed without a reason reported',
  cancelled: 'cancelled: the agent stopped and removed what it had downloaded',
};

/** Why a device is where it is: its reported reason (code and message) first, else what its state means. */
export function explainDevice(device: Pick<DeviceTask, 'state' | 'reason' | 'exitCode'>): string {
  if (device.reason) return `${device.reason.code}: ${device.reason.message}`;
  if (device.state === 'failed' && device.exitCode !== null) return `the installer exited with ${device.exitCode}`;
  return STATE_MEANING[device.state];
}

const ORDER: Record<DeviceTaskState, number> = { failed: 0, pending: 1, queued: 2, downloading: 3, cached: 4, installing: 5, succeeded: 6, cancelled: 7 };

/** Devices for the table: the ones needing attention first (failed, then those furthest from done), then by ID. */
export function sortDevices(devices: readonly DeviceTask[]): DeviceTask[] {
  return [...devices].sort((a, b) => ORDER[a.state] - ORDER[b.state] || a.deviceId.localeCompare(b.deviceId));
}

export function isTerminal(state: DeviceTaskState): boolean {
  return TERMINAL.has(state);
}

export interface SourceShare {
  source: keyof BytesBySource;
  label: string;
  bytes: number;
  /** Of all bytes received, percent (floored). */
  percent: number;
}

export const SOURCE_LABELS: Record<keyof BytesBySource, string> = {
  origin: 'Origin (over the WAN)',
  parent: 'Parent office (over the WAN)',
  multicast: 'LAN multicast',
  peer: 'LAN peers',
};

const SOURCES = ['origin', 'parent', 'multicast', 'peer'] as const;

/**
 * Bytes by source with each one's share: what crossed the WAN against what the LAN carried. An
 * older gateway's summary has no `parent`: 0.
 */
export function sourceShares(bytes: BytesBySource): SourceShare[] {
  const of = (source: keyof BytesBySource) => bytes[source] ?? 0;
  const total = SOURCES.reduce((n, source) => n + of(source), 0);
  return SOURCES.map((source) => ({
    source,
    label: SOURCE_LABELS[source],
    bytes: of(source),
    percent: total > 0 ? Math.floor((of(source) / total) * 100) : 0,
  }));
}

export interface OfficeRow {
  /** The office's ID, or null for devices in no known office. */
  officeId: string | null;
  label: string;
  devices: number;
  wanBytes: number;
  savedBytes: number;
  /** Of all bytes the office's devices received, percent that did not cross its WAN link (floored). */
  savedPercent: number;
}

/**
 * The summary's offices for the page: none when no device has a known office (no topology, or an
 * older gateway), so that the page says nothing rather than one row of unplaced devices.
 */
export function officeRows(summary: TaskSummary): OfficeRow[] {
  const offices = summary.offices ?? [];
  if (!offices.some((o) => o.officeId !== null)) return [];
  return offices.map((o) => ({
    officeId: o.officeId,
    label: o.officeId === null ? 'No office known' : o.name && o.name !== o.officeId ? `${o.name} (${o.officeId})` : o.officeId,
    devices: o.devices,
    wanBytes: o.wanBytes,
    savedBytes: o.savedBytes,
    savedPercent: o.wanBytes + o.savedBytes > 0 ? Math.floor((o.savedBytes / (o.wanBytes + o.savedBytes)) * 100) : 0,
  }));
}

export interface LanSessionRow {
  subnet: string;
  devices: number;
  succeeded: number;
  representative: string | null;
  startedAt: string | null;
  lanBytesSent: number;
  repairs: number;
  invalidPackets: number;
  issues: Array<{ code: string; message: string; devices: number }>;
  /** There was a LAN session (a representative or LAN bytes), as opposed to every device on its own. */
  hadSession: boolean;
}

/** Each subnet's LAN session, as the summary reports it; subnets without a report read as no session. */
export function lanSessionRows(summary: TaskSummary): LanSessionRow[] {
  return summary.subnets
    .map((s) => ({
      subnet: s.subnet,
      devices: s.total,
      succeeded: s.counts.succeeded,
      representative: s.lan?.representative ?? null,
      startedAt: s.lan?.sessionStartedAt ?? null,
      lanBytesSent: s.lan?.lanBytesSent ?? 0,
      repairs: s.lan?.repairs ?? 0,
      invalidPackets: s.lan?.invalidPackets ?? 0,
      issues: s.lan?.issues ?? [],
      hadSession: (s.lan?.representative ?? null) !== null || (s.lan?.lanBytesSent ?? 0) > 0,
    }))
    .sort((a, b) => a.subnet.localeCompare(b.subnet));
}
