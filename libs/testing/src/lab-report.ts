import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { type BytesBySource, emptyBytesBySource } from '@fleetcast/contracts';
import type { Lab, WanCounters } from '@fleetcast/netlab';
import type { LabStack } from './lab-stack';

/** What the task does on each device: keep the verified copy in the cache, or also run the package's command. */
export type LabTaskAction = 'cache-only' | 'install';

export interface LabDistributionOptions {
  stack: LabStack;
  /** The lab the stack runs on (the stack's own by default). */
  lab?: Lab;
  packageBytes: number;
  action: LabTaskAction;
  /** Content seed: the same seed and size give the same bytes (and content ID). */
  seed?: string;
  /** From task creation until every device is terminal; the default suits a 64 MiB package at 20 Mbit/s per branch. */
  timeoutMs?: number;
  /** Where progress lines and the report go (default: standard output). */
  print?: (line: string) => void;
  /**
   * Settings for this task: created as a profile through the API and passed as the task's
   * `profileId` (e.g. `{ useMulticast: true, sessionStartDelaySeconds: 3 }`). Absent: the
   * devices' default profile.
   */
  profile?: LabProfileSettings;
  /**
   * The package's bytes instead of generated ones (`packageBytes` must be their size), e.g. a known
   * marker repeated, to look for on the wire. `sha256` is the plaintext's.
   */
  content?: { sha256: string; stream: () => Readable };
  /** A confidential package: sealed at the origin, opened only by targets (its content ID is the ciphertext's). */
  confidential?: boolean;
  /** For 'install': the command and its arguments instead of the default check that the file is there. */
  install?: { command: string; args: string[] };
  /** The devices the task targets (default: every agent of the stack). */
  targets?: readonly string[];
}

/**
 * The settings a lab task may override: the contract's agent settings, spelled out here because this
 * harness talks to the public API as a user does (JSON), not through the contracts package.
 */
export interface LabProfileSettings {
  useMulticast?: boolean;
  sessionStartDelaySeconds?: number;
  peerDownloadAllowed?: boolean;
  lanRateLimitKbps?: number | null;
  cacheSizeLimitBytes?: number | null;
}

/** Bytes by source as the public API gives them (the contract's type; `parent`: from the parent office's holders). */
export type { BytesBySource };

export interface DeviceFigures {
  deviceId: string;
  branch: string;
  subnet: string;
  state: string;
  reason: string | null;
  /** From task creation to the device's last report (its terminal state), by the tasks service's clock. */
  seconds: number | null;
  /** Bytes by source as the device reported them. */
  bytes: BytesBySource;
  /** What the origin itself counted as served to this device (`x-fleetcast-device`), retried ranges included. */
  originServed: number;
}

export interface SubnetFigures {
  branch: string;
  subnet: string;
  devices: number;
  /** Devices that succeeded. */
  done: number;
  /** What the origin counted as served to this subnet (`x-fleetcast-subnet`). */
  originBytes: number;
  /** `originBytes` / package size: the number of WAN copies by the origin's count. */
  originRatio: number;
  /** Bytes through the WAN link toward the branch, Ethernet and IP headers included (NATS too). */
  wanBytes: number;
  wanRatio: number;
  /** `wanBytes` / `originBytes`: what headers and control traffic add; about 1.05 for plain TCP (66 header bytes per 1448). */
  wanOverOrigin: number;
  /** Bytes the other way: requests, acknowledgements, status reports. */
  wanFromBranchBytes: number;
  /** Packets the WAN shaper dropped toward the branch during the run (TCP backs off on these). */
  shaperDrops: number;
  /** The subnet's LAN session as the task summary has it; null when no device reported one (no multicast). */
  lan: SubnetLanFigures | null;
}

export interface SubnetLanFigures {
  /** The elected representative's device ID; null when none reported. */
  representative: string | null;
  /** When the representative began to multicast, in seconds after the task was created; null if it never did. */
  sessionStartSeconds: number | null;
  /** IP bytes of data, parity and announcements the representative sent on the LAN. */
  lanBytesSent: number;
  /** `lanBytesSent` / package size: what the LAN carried per copy (headers and repair included). */
  lanRatio: number;
  /** Repair symbols the representative sent plus blocks the others fetched in repair (peers or origin). */
  repairs: number;
  invalidPackets: number;
}

export interface LabReport {
  taskId: string;
  action: LabTaskAction;
  packageBytes: number;
  /** The package's SHA-256: the name of the verified copy in every agent's cache. */
  contentId: string;
  devices: DeviceFigures[];
  subnets: SubnetFigures[];
  totals: {
    devices: number;
    done: number;
    failed: number;
    originBytes: number;
    /** Served to requesters that named no lab subnet; should be 0. */
    originBytesElsewhere: number;
    wanBytes: number;
    /** Task creation to the last device's terminal report. */
    seconds: number | null;
  };
}

/** A subnet's LAN session in the task summary. */
export interface SummaryLan {
  representative: string | null;
  sessionStartedAt: string | null;
  lanBytesSent: number;
  repairs: number;
  invalidPackets: number;
}
interface DeviceRow {
  deviceId: string;
  subnet: string | null;
  state: string;
  reason: { code: string; message: string } | null;
  bytes: BytesBySource;
  updatedAt: string;
}
interface ServedBytes {
  total: number;
  bySubnet: Record<string, number>;
  byDevice: Record<string, number>;
}

/** The device states after which nothing more happens (the contract's terminal states). */
const TERMINAL = ['succeeded', 'failed', 'cancelled'];
/** Half a second: progress is visible without the polling loading the 2-core machine it measures. */
const POLL_MS = 500;
/** Prints the progress at least this often even when no device changed state. */
const PROGRESS_EVERY_MS = 5_000;
/** 64 MiB at 20 Mbit/s per branch with every device downloading: 3 devices take about 80 s. */
const DEFAULT_TIMEOUT_MS = 5 * 60_000;
/** Generated in slices of this size, so a large package is never held whole. */
const SLICE_BYTES = 1024 * 1024;
/** The page limit of the task device list (the contract's maximum). */
const PAGE = 1000;
/**
 * A representative's last status report (with the session's final figures) follows its terminal
 * state by at most a report interval; a multicast run waits this long for every subnet to name one.
 */
const LAN_SUMMARY_GRACE_MS = 5_000;

const MIB = 1024 * 1024;
const mib = (bytes: number): string => `${(bytes / MIB).toFixed(2)} MiB`;

/**
 * Deterministic pseudo-random content: the AES-256-CTR keystream of a key derived from the seed.
 * Incompressible like a real package, fast, and the same bytes on every read.
 */
export function generatedContent(size: number, seed: string): { sha256: string; stream: () => Readable } {
  const key = createHash('sha256').update(seed).digest();
  const slices = function* (): Generator<Buffer> {
    const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
    const zeros = Buffer.alloc(SLICE_BYTES);
    for (let left = size; left > 0; left -= SLICE_BYTES) yield cipher.update(zeros.subarray(0, Math.min(SLICE_BYTES, left)));
  };
  const hash = createHash('sha256');
  for (const slice of slices()) hash.update(slice);
  return { sha256: hash.digest('hex'), stream: () => Readable.from(slices()) };
}

function delta(after: WanCounters, before: WanCounters): { toBranch: number; fromBranch: number; drops: number } {
  return {
    toBranch: after.toBranch.bytes - before.toBranch.bytes,
    fromBranch: after.fromBranch.bytes - before.fromBranch.bytes,
    drops: after.toBranch.shaperDrops - before.toBranch.shaperDrops,
  };
}

/** A distribution under way: its task, and what ends it (see `startLabDistribution`). */
export interface LabDistribution {
  taskId: string;
  /** The package's SHA-256: the name of the verified copy in every agent's cache. */
  contentId: string;
  packageBytes: number;
  /** The task's creation, by this process's clock. */
  startedAt: number;
  /** The task summary now. */
  summary(): Promise<LabTaskSummary>;
  /**
   * Follows the summary until every device is terminal but those in `exclude` (e.g. one killed on
   * purpose, which will never report again), printing progress, then reads the counters again and
   * prints the report (see `formatLabReport`). Throws if that does not happen within the
   * distribution's timeout; a device that failed is reported, not thrown.
   */
  finish(options?: { exclude?: readonly string[] }): Promise<LabReport>;
}

/** The task summary as the public API returns it (the fields a lab run reads). */
export interface LabTaskSummary {
  total: number;
  counts: Record<string, number>;
  bytes: BytesBySource;
  subnets?: Array<{ subnet: string; lan?: SummaryLan }>;
}

/**
 * One distribution across the lab, measured: uploads a generated package through the public API,
 * zeroes the origin's byte counts, reads the WAN counters, creates a task for every device of the
 * stack, follows the summary until every device is terminal (printing progress), reads the
 * counters again and prints the report (see `formatLabReport`). Throws if the task does not end
 * within the timeout; a device that failed is reported, not thrown.
 */
export async function runLabDistribution(options: LabDistributionOptions): Promise<LabReport> {
  return (await startLabDistribution(options)).finish();
}

/**
 * The first half of `runLabDistribution`: resolves once the task is created, so that a test can
 * act while it runs (start a device late, kill one, send forged packets) before `finish`.
 */
export async function startLabDistribution(options: LabDistributionOptions): Promise<LabDistribution> {
  const { stack, packageBytes, action } = options;
  const lab = options.lab ?? stack.lab;
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const seed = options.seed ?? `lab-${Date.now()}`;
  const api = stack.api;
  const content = options.content ?? generatedContent(packageBytes, seed);
  const pkg = await api.ok<{ id: string }>('POST', '/v1/packages', {
    name: `lab-${seed}`.slice(0, 200),
    version: '1.0.0',
    platform: 'linux',
    // For 'install': a command that only checks the verified file is there, so the figures are the transfer's.
    installCommand: options.install?.command ?? '/bin/sh',
    installArgs: options.install?.args ?? ['-c', 'test -s "$FLEETCAST_PACKAGE_PATH"'],
    timeoutSeconds: 60,
    ...(options.confidential ? { confidential: true } : {}),
  });
  const uploaded = await api.upload<{ status: string; contentId: string }>(pkg.id, content.stream(), { 'x-content-sha256': content.sha256 });
  if (uploaded.status !== 200 || uploaded.body.status !== 'ready') throw new Error(`upload of the lab package failed: ${uploaded.status} ${JSON.stringify(uploaded.body)}`);
  // A confidential package's content is the ciphertext the origin made: its ID is not the upload's hash.
  const contentId = uploaded.body.contentId;
  print(`[lab] package ${mib(packageBytes)} uploaded (sha256 ${content.sha256.slice(0, 16)}...${options.confidential ? `, confidential: sealed as ${contentId.slice(0, 16)}...` : ''})`);

  // Counts start from zero for this run; WAN counters cannot be reset, so they are read before and after.
  await stack.origin.ok('DELETE', '/v1/stats/bytes-served');
  const wanBefore = await Promise.all(lab.branches.map((b) => lab.wanCounters(b.name)));
  const deviceIds = options.targets ? [...options.targets] : stack.agents.map((a) => a.deviceId);
  let profileId: string | undefined;
  if (options.profile) {
    const profile = await api.ok<{ id: string }>('POST', '/v1/profiles', { name: `lab ${seed}`.slice(0, 200), ...options.profile });
    profileId = profile.id;
    print(`[lab] profile ${profile.id}: ${JSON.stringify(options.profile)}`);
  }
  const task = await api.ok<{ id: string; createdAt: string }>('POST', '/v1/tasks', {
    name: `lab ${action} ${mib(packageBytes)}`,
    packageId: pkg.id,
    action,
    targets: { deviceIds },
    ...(profileId ? { profileId } : {}),
  });
  const startedAt = Date.now();
  print(`[lab] task ${task.id}: ${action} on ${deviceIds.length} devices in ${lab.branches.length} branches`);

  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const summaryNow = () => api.ok<LabTaskSummary>('GET', `/v1/tasks/${task.id}/summary`);

  const finish = async (finishOptions: { exclude?: readonly string[] } = {}): Promise<LabReport> => {
    const excluded = new Set(finishOptions.exclude ?? []);
    const deadline = startedAt + timeoutMs;
    let lastLine = '';
    let lastPrintAt = 0;
    let summary: LabTaskSummary;
    for (;;) {
      summary = await summaryNow();
      const states = Object.entries(summary.counts)
        .filter(([, n]) => n > 0)
        .map(([state, n]) => `${state} ${n}`)
        .join(', ');
      const received = summary.bytes.origin + (summary.bytes.parent ?? 0) + summary.bytes.multicast + summary.bytes.peer;
      const elapsed = Date.now() - startedAt;
      if (states !== lastLine || elapsed - lastPrintAt >= PROGRESS_EVERY_MS) {
        print(`[lab] ${(elapsed / 1000).toFixed(1).padStart(6)} s  ${states}; received ${mib(received)} (origin ${mib(summary.bytes.origin)}, parent ${mib(summary.bytes.parent ?? 0)}, multicast ${mib(summary.bytes.multicast)}, peer ${mib(summary.bytes.peer)})`);
        lastLine = states;
        lastPrintAt = elapsed;
      }
      const terminal = TERMINAL.reduce((n, state) => n + (summary.counts[state] ?? 0), 0);
      // An excluded device counts as awaited only if it is not terminal itself.
      if (terminal + excluded.size >= summary.total && (excluded.size === 0 || (await nonTerminal(api, task.id)).every((id) => excluded.has(id)))) break;
      if (Date.now() > deadline) throw new Error(`task ${task.id} did not finish within ${timeoutMs} ms (${states})`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    if (options.profile?.useMulticast) {
      const graceUntil = Date.now() + LAN_SUMMARY_GRACE_MS;
      while (!lab.branches.every((b) => summary.subnets?.find((s) => s.subnet === b.subnet)?.lan?.representative) && Date.now() < graceUntil) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        summary = await summaryNow();
      }
    }
    const wanAfter = await Promise.all(lab.branches.map((b) => lab.wanCounters(b.name)));
    const served = await stack.origin.ok<ServedBytes>('GET', '/v1/stats/bytes-served');
    const rows = await deviceRows(api, task.id);

    const created = Date.parse(task.createdAt);
    const rowOf = new Map(rows.map((r) => [r.deviceId, r]));
    const devices = stack.agents.filter((a) => deviceIds.includes(a.deviceId)).map((agent): DeviceFigures => {
      const row = rowOf.get(agent.deviceId);
      const terminal = row !== undefined && TERMINAL.includes(row.state);
      return {
        deviceId: agent.deviceId,
        branch: agent.branch,
        subnet: agent.subnet,
        state: row?.state ?? 'unknown',
        reason: row?.reason ? `${row.reason.code}: ${row.reason.message}` : null,
        seconds: terminal ? (Date.parse(row.updatedAt) - created) / 1000 : null,
        bytes: row?.bytes ?? emptyBytesBySource(),
        originServed: served.byDevice[agent.deviceId] ?? 0,
      };
    });
    const subnets = lab.branches.map((branch, i): SubnetFigures => {
      const mine = devices.filter((d) => d.branch === branch.name);
      const wan = delta(wanAfter[i]!, wanBefore[i]!);
      const originBytes = served.bySubnet[branch.subnet] ?? 0;
      const lan = summary.subnets?.find((s) => s.subnet === branch.subnet)?.lan;
      return {
        branch: branch.name,
        subnet: branch.subnet,
        devices: mine.length,
        done: mine.filter((d) => d.state === 'succeeded').length,
        originBytes,
        originRatio: originBytes / packageBytes,
        wanBytes: wan.toBranch,
        wanRatio: wan.toBranch / packageBytes,
        wanOverOrigin: originBytes > 0 ? wan.toBranch / originBytes : Number.NaN,
        wanFromBranchBytes: wan.fromBranch,
        shaperDrops: wan.drops,
        lan:
          lan && (lan.representative !== null || lan.lanBytesSent > 0)
            ? {
                representative: lan.representative,
                sessionStartSeconds: lan.sessionStartedAt === null ? null : (Date.parse(lan.sessionStartedAt) - created) / 1000,
                lanBytesSent: lan.lanBytesSent,
                lanRatio: lan.lanBytesSent / packageBytes,
                repairs: lan.repairs,
                invalidPackets: lan.invalidPackets,
              }
            : null,
      };
    });
    const times = devices.map((d) => d.seconds).filter((s): s is number => s !== null);
    const originInLab = subnets.reduce((n, s) => n + s.originBytes, 0);
    const report: LabReport = {
      taskId: task.id,
      action,
      packageBytes,
      contentId,
      devices,
      subnets,
      totals: {
        devices: devices.length,
        done: devices.filter((d) => d.state === 'succeeded').length,
        failed: devices.filter((d) => d.state === 'failed').length,
        originBytes: served.total,
        originBytesElsewhere: served.total - originInLab,
        wanBytes: subnets.reduce((n, s) => n + s.wanBytes, 0),
        seconds: times.length > 0 ? Math.max(...times) : null,
      },
    };
    for (const line of formatLabReport(report).split('\n')) print(line);
    return report;
  };

  return { taskId: task.id, contentId, packageBytes, startedAt, summary: summaryNow, finish };
}

/** Devices of the task not yet in a terminal state. */
async function nonTerminal(api: LabStack['api'], taskId: string): Promise<string[]> {
  return (await deviceRows(api, taskId)).filter((r) => !TERMINAL.includes(r.state)).map((r) => r.deviceId);
}

async function deviceRows(api: LabStack['api'], taskId: string): Promise<DeviceRow[]> {
  const rows: DeviceRow[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await api.ok<{ items: DeviceRow[]; total: number }>('GET', `/v1/tasks/${taskId}/devices?limit=${PAGE}&offset=${offset}`);
    rows.push(...page.items);
    if (page.items.length === 0 || rows.length >= page.total) break;
  }
  return rows;
}

function table(header: string[], rows: string[][], rightAligned: Set<number>): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

const seconds = (s: number | null): string => (s === null ? '-' : `${s.toFixed(1)} s`);
const ratio = (r: number): string => (Number.isFinite(r) ? `${r.toFixed(2)}x` : '-');

/** The report as text: per device (bytes as reported, and the origin's own count), per subnet (origin count next to the WAN link count), totals. */
export function formatLabReport(report: LabReport): string {
  const size = report.packageBytes;
  const lines = [`lab report: task ${report.taskId}, ${report.action}, package ${mib(size)} (sha256 ${report.contentId.slice(0, 16)}...)`, ''];
  lines.push(
    ...table(
      ['device', 'subnet', 'state', 'time', 'origin', 'parent', 'multicast', 'peer', 'origin served'],
      report.devices.map((d) => [
        d.deviceId,
        d.subnet,
        d.state,
        seconds(d.seconds),
        mib(d.bytes.origin),
        mib(d.bytes.parent ?? 0),
        mib(d.bytes.multicast),
        mib(d.bytes.peer),
        mib(d.originServed),
      ]),
      new Set([3, 4, 5, 6, 7, 8]),
    ),
  );
  for (const d of report.devices.filter((x) => x.reason)) lines.push(`  ${d.deviceId}: ${d.reason}`);
  lines.push('');
  // The LAN session per subnet, only when some subnet had one (a baseline run has none).
  if (report.subnets.some((s) => s.lan)) {
    lines.push(
      ...table(
        ['subnet', 'representative', 'session start', 'LAN sent', 'x pkg', 'repairs', 'invalid packets', 'origin served', 'x pkg', 'WAN to branch', 'x pkg'],
        report.subnets.map((s) => [
          s.subnet,
          s.lan?.representative ?? '-',
          s.lan?.sessionStartSeconds == null ? '-' : `+${s.lan.sessionStartSeconds.toFixed(1)} s`,
          s.lan ? mib(s.lan.lanBytesSent) : '-',
          s.lan ? ratio(s.lan.lanRatio) : '-',
          s.lan ? String(s.lan.repairs) : '-',
          s.lan ? String(s.lan.invalidPackets) : '-',
          mib(s.originBytes),
          ratio(s.originRatio),
          mib(s.wanBytes),
          ratio(s.wanRatio),
        ]),
        new Set([2, 3, 4, 5, 6, 7, 8, 9, 10]),
      ),
    );
    lines.push('');
  }
  lines.push(
    ...table(
      ['subnet', 'branch', 'done', 'origin served', 'x pkg', 'WAN to branch', 'x pkg', 'WAN/origin', 'WAN from branch', 'shaper drops'],
      report.subnets.map((s) => [
        s.subnet,
        s.branch,
        `${s.done}/${s.devices}`,
        mib(s.originBytes),
        ratio(s.originRatio),
        mib(s.wanBytes),
        ratio(s.wanRatio),
        Number.isFinite(s.wanOverOrigin) ? s.wanOverOrigin.toFixed(3) : '-',
        mib(s.wanFromBranchBytes),
        String(s.shaperDrops),
      ]),
      new Set([2, 3, 4, 5, 6, 7, 8, 9]),
    ),
  );
  const t = report.totals;
  lines.push('');
  lines.push(
    `total: ${t.done}/${t.devices} devices done${t.failed ? `, ${t.failed} failed` : ''}; origin served ${mib(t.originBytes)} (${ratio(t.originBytes / size)} the package)` +
      `${t.originBytesElsewhere ? `, of which ${mib(t.originBytesElsewhere)} to no lab subnet` : ''}; WAN to branches ${mib(t.wanBytes)} (${ratio(t.wanBytes / size)}); last device done ${seconds(t.seconds)} after the task was created`,
  );
  return lines.join('\n');
}
