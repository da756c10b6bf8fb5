import {
  AssignmentDocumentV2,
  BytesBySource,
  CancellationDocumentV1,
  DEVICE_TASK_STATES,
  ErrorCode,
  FleetcastError,
  DeviceStatusV1,
  DeviceTaskState,
  emptyBytesBySource,
  OfficeSummary,
  Package,
  ResolvedSettings,
  savedBytesOf,
  TaskAction,
  TaskAssignedV2,
  TaskSummary,
  wanBytesOf,
} from '@fleetcast/contracts';

/** Pure functions of the tasks feature: no I/O, unit-tested on their own. */

export interface TaskRecord {
  id: string;
  name: string;
  packageId: string;
  action: TaskAction;
  status: 'scheduled' | 'active' | 'completed' | 'cancelled';
  profileId: string | null;
  startAt: Date;
  createdAt: Date;
}

/**
 * When a device may act on a task's assignment: from the task's start (or its creation, for a start
 * time given in the past) until `validityMs` later. The same window for the first copy and every
 * resend, so that resending never extends it; with the default validity, the stream's 30-day
 * retention, an agent that was offline for as long as the stream keeps the assignment still runs
 * the task when it comes back, and never after.
 */
export function assignmentWindow(task: Pick<TaskRecord, 'startAt' | 'createdAt'>, validityMs: number): { notBefore: Date; expiresAt: Date } {
  const notBefore = new Date(Math.max(task.startAt.getTime(), task.createdAt.getTime()));
  return { notBefore, expiresAt: new Date(notBefore.getTime() + validityMs) };
}

/** The signed part of one device's assignment: everything the device acts on. */
export function assignmentDocument(
  task: Pick<TaskRecord, 'id' | 'action'>,
  pkg: Package,
  manifestHash: string,
  deviceId: string,
  window: { notBefore: Date; expiresAt: Date },
  retiredKeyIds: string[],
  now: Date,
  attempt = 1,
): AssignmentDocumentV2 {
  if (pkg.contentId === null || pkg.size === null) throw new Error(`package ${pkg.id} has no content`);
  return {
    taskId: task.id,
    deviceId,
    action: task.action,
    package: {
      contentId: pkg.contentId,
      size: pkg.size,
      manifestHash,
      installCommand: pkg.installCommand,
      installArgs: pkg.installArgs,
      successExitCodes: pkg.successExitCodes,
      timeoutSeconds: pkg.timeoutSeconds,
      // Only when true: the bytes of every other document stay those agents before confidential packages verify.
      ...(pkg.confidential ? { confidential: true as const } : {}),
    },
    issuedAt: now.toISOString(),
    notBefore: window.notBefore.toISOString(),
    expiresAt: window.expiresAt.toISOString(),
    retiredKeyIds,
    // Signed only after a retry: a first attempt's document is what agents before retries verify.
    ...(attempt > 1 ? { attempt } : {}),
  };
}

/** The signed part of one device's cancellation of a task. */
export function cancellationDocument(taskId: string, deviceId: string, retiredKeyIds: string[], now: Date): CancellationDocumentV1 {
  return { taskId, deviceId, issuedAt: now.toISOString(), retiredKeyIds };
}

/**
 * Which devices a retry puts back to `pending`: the named ones (every one must be a failed target),
 * or every failed target. Throws the error the request gets otherwise: a named device that is not a
 * target (not found), one that did not fail, or none failed (nothing to retry).
 */
export function devicesToRetry(targets: ReadonlyArray<{ deviceId: string; state: DeviceTaskState }>, named: readonly string[] | undefined): string[] {
  if (named !== undefined) {
    const known = new Map(targets.map((t) => [t.deviceId, t.state]));
    const unknown = [...new Set(named)].filter((d) => !known.has(d));
    if (unknown.length > 0) throw new FleetcastError(ErrorCode.DeviceNotFound, `not targets of the task: ${listSome(unknown)}`);
    const notFailed = [...new Set(named)].filter((d) => known.get(d) !== 'failed');
    if (notFailed.length > 0) {
      throw new FleetcastError(ErrorCode.NothingToRetry, `only failed devices can be retried; not failed: ${listSome(notFailed.map((d) => `${d} (${known.get(d)})`))}`);
    }
    return [...new Set(named)];
  }
  const failed = targets.filter((t) => t.state === 'failed').map((t) => t.deviceId);
  if (failed.length === 0) throw new FleetcastError(ErrorCode.NothingToRetry, 'no device of the task has failed: nothing to retry');
  return failed;
}

/** The first few items of a long list, and how many more. */
function listSome(items: readonly string[], max = 10): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/** The message a device receives: the signed document, the endorsements to its key, and the unsigned rest (names, download URL, settings). */
export function buildAssignment(
  signed: TaskAssignedV2['assignment'],
  endorsements: TaskAssignedV2['endorsements'],
  pkg: Package,
  settings: ResolvedSettings,
  originPublicUrl: string,
): TaskAssignedV2 {
  if (pkg.contentId === null) throw new Error(`package ${pkg.id} has no content`);
  return {
    assignment: signed,
    endorsements,
    package: { packageId: pkg.id, name: pkg.name, version: pkg.version, platform: pkg.platform, downloadUrl: `${originPublicUrl}/v1/content/${pkg.contentId}` },
    settings,
  };
}

/**
 * Keeps, for each (task, device), only the report with the highest seq: a batch may hold several
 * reports of one device, and only the newest may be applied (older ones would move state backwards).
 */
export function latestReports<R extends DeviceStatusV1>(reports: R[]): R[] {
  const latest = new Map<string, R>();
  for (const r of reports) {
    const key = `${r.taskId}/${r.deviceId}`;
    const seen = latest.get(key);
    if (!seen || r.seq > seen.seq) latest.set(key, r);
  }
  return [...latest.values()];
}

export interface SummaryRow {
  subnet: string | null;
  state: DeviceTaskState;
  devices: number;
  origin: number;
  parent: number;
  multicast: number;
  peer: number;
  lanBytesSent: number;
  repairs: number;
  invalidPackets: number;
}

/** A task's devices in one office (null: none known), with their bytes. */
export interface OfficeRow {
  officeId: string | null;
  name: string | null;
  devices: number;
  bytes: BytesBySource;
}

export interface SubnetRepresentative {
  subnet: string | null;
  deviceId: string;
  sessionStartedAt: string | null;
}

/** Devices of a task in one state whose last report gave one reason code. */
export interface StateReason {
  state: DeviceTaskState;
  code: string;
  message: string;
  devices: number;
}

export interface SubnetLanIssue {
  subnet: string | null;
  code: string;
  message: string;
  devices: number;
}

const zeroCounts = () => Object.fromEntries(DEVICE_TASK_STATES.map((s) => [s, 0])) as Record<DeviceTaskState, number>;

/**
 * Each office's devices and bytes with what crossed its WAN link (origin and parent office) and
 * what its LAN carried instead (multicast and peers): most WAN bytes first, then by office ID,
 * devices in no office last.
 */
export function summarizeOffices(rows: readonly OfficeRow[]): OfficeSummary[] {
  return rows
    .map((r) => ({ officeId: r.officeId, name: r.officeId === null ? null : r.name ?? r.officeId, devices: r.devices, bytes: { ...r.bytes }, wanBytes: wanBytesOf(r.bytes), savedBytes: savedBytesOf(r.bytes) }))
    .sort((a, b) => Number(a.officeId === null) - Number(b.officeId === null) || b.wanBytes - a.wanBytes || String(a.officeId).localeCompare(String(b.officeId)));
}

/**
 * Folds grouped rows (subnet x state) into the task summary: counts per state, bytes per source, and
 * per subnet the same plus its LAN session (representative, start, LAN bytes sent, repairs, and
 * the devices whose session fell short, by issue); and per office (see summarizeOffices).
 */
export function summarize(
  taskId: string,
  rows: SummaryRow[],
  representatives: SubnetRepresentative[] = [],
  lanIssues: SubnetLanIssue[] = [],
  reasons: StateReason[] = [],
  offices: readonly OfficeRow[] = [],
): TaskSummary {
  const counts = zeroCounts();
  const bytes = emptyBytesBySource();
  type Lan = NonNullable<TaskSummary['subnets'][number]['lan']>;
  const subnets = new Map<string, { subnet: string; total: number; counts: Record<DeviceTaskState, number>; bytes: BytesBySource; lan: Lan }>();
  let total = 0;
  for (const row of rows) {
    const name = row.subnet ?? 'unknown';
    let s = subnets.get(name);
    if (!s) {
      const rep = representatives.find((r) => (r.subnet ?? 'unknown') === name);
      const issues = lanIssues.filter((i) => (i.subnet ?? 'unknown') === name).map(({ code, message, devices }) => ({ code, message, devices }));
      const lan = { representative: rep?.deviceId ?? null, sessionStartedAt: rep?.sessionStartedAt ?? null, lanBytesSent: 0, repairs: 0, invalidPackets: 0, issues };
      subnets.set(name, (s = { subnet: name, total: 0, counts: zeroCounts(), bytes: emptyBytesBySource(), lan }));
    }
    s.lan.lanBytesSent += row.lanBytesSent;
    s.lan.repairs += row.repairs;
    s.lan.invalidPackets += row.invalidPackets;
    for (const target of [{ counts, bytes }, s]) {
      target.counts[row.state] += row.devices;
      target.bytes.origin += row.origin;
      target.bytes.parent += row.parent;
      target.bytes.multicast += row.multicast;
      target.bytes.peer += row.peer;
    }
    s.total += row.devices;
    total += row.devices;
  }
  return {
    taskId,
    total,
    counts,
    bytes,
    subnets: [...subnets.values()].sort((a, b) => a.subnet.localeCompare(b.subnet)),
    // Most devices first: the reason that holds up most of the task leads.
    reasons: [...reasons].sort((a, b) => b.devices - a.devices || a.state.localeCompare(b.state) || a.code.localeCompare(b.code)),
    offices: summarizeOffices(offices),
  };
}
