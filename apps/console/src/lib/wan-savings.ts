import type { TaskSummary } from '@fleetcast/contracts';

/**
 * WAN bytes saved per subnet, from task summaries' bytes by source: what the subnet's devices got
 * from the LAN (multicast and peers) would otherwise have crossed the WAN (from the origin or the
 * parent office; an older gateway's summary has no `parent`: 0).
 */
export interface SubnetSavings {
  subnet: string;
  /** Bytes that crossed the WAN (from the origin and the parent office). */
  wanBytes: number;
  /** Bytes the LAN carried instead (multicast + peers): the WAN bytes saved. */
  savedBytes: number;
  /** Of all bytes the subnet received, percent saved (floored). */
  savedPercent: number;
}

export function savingsBySubnet(summaries: readonly TaskSummary[]): SubnetSavings[] {
  const bySubnet = new Map<string, { wan: number; saved: number }>();
  for (const summary of summaries) {
    for (const s of summary.subnets) {
      const entry = bySubnet.get(s.subnet) ?? { wan: 0, saved: 0 };
      entry.wan += s.bytes.origin + (s.bytes.parent ?? 0);
      entry.saved += s.bytes.multicast + s.bytes.peer;
      bySubnet.set(s.subnet, entry);
    }
  }
  return [...bySubnet.entries()]
    .map(([subnet, { wan, saved }]) => ({ subnet, wanBytes: wan, savedBytes: saved, savedPercent: wan + saved > 0 ? Math.floor((saved / (wan + saved)) * 100) : 0 }))
    .sort((a, b) => b.savedBytes - a.savedBytes || a.subnet.localeCompare(b.subnet));
}

export interface Bar {
  label: string;
  /** Top-left of the bar's row and each segment's width, in the chart's units. */
  y: number;
  savedWidth: number;
  wanWidth: number;
  row: SubnetSavings;
}

export interface ChartLayout {
  width: number;
  height: number;
  /** Where the bars start (after the labels). */
  left: number;
  barHeight: number;
  bars: Bar[];
  /** The largest total the scale reaches. */
  max: number;
}

/**
 * A horizontal stacked bar per subnet: saved (LAN) then WAN bytes, on one scale for all. At most
 * `maxBars` subnets, the ones that saved most; the rest would not fit a laptop screen.
 */
export function layoutSavingsChart(rows: readonly SubnetSavings[], options: { width: number; left: number; barHeight: number; gap: number; maxBars: number }): ChartLayout {
  const shown = rows.slice(0, options.maxBars);
  const max = Math.max(1, ...shown.map((r) => r.savedBytes + r.wanBytes));
  const span = options.width - options.left;
  const bars = shown.map((row, i) => ({
    label: row.subnet,
    y: i * (options.barHeight + options.gap),
    savedWidth: (row.savedBytes / max) * span,
    wanWidth: (row.wanBytes / max) * span,
    row,
  }));
  return {
    width: options.width,
    height: Math.max(options.barHeight, shown.length * (options.barHeight + options.gap) - options.gap),
    left: options.left,
    barHeight: options.barHeight,
    bars,
    max,
  };
}

export interface DaySavings {
  /** The UTC day the tasks were created, `YYYY-MM-DD`. */
  day: string;
  wanBytes: number;
  savedBytes: number;
}

/**
 * WAN bytes saved per UTC day, by the day each task was created, for the last `days` days up to
 * `now` (days without a task read zero, so that the time axis is even).
 */
export function savingsByDay(tasks: ReadonlyArray<{ createdAt: string; summary: TaskSummary }>, now: number, days: number): DaySavings[] {
  const DAY = 86_400_000;
  const today = Math.floor(now / DAY);
  const out: DaySavings[] = [];
  for (let d = today - days + 1; d <= today; d++) out.push({ day: new Date(d * DAY).toISOString().slice(0, 10), wanBytes: 0, savedBytes: 0 });
  const index = new Map(out.map((entry, i) => [entry.day, i]));
  for (const task of tasks) {
    const ms = Date.parse(task.createdAt);
    if (Number.isNaN(ms)) continue;
    const i = index.get(new Date(ms).toISOString().slice(0, 10));
    if (i === undefined) continue;
    out[i]!.wanBytes += task.summary.bytes.origin + (task.summary.bytes.parent ?? 0);
    out[i]!.savedBytes += task.summary.bytes.multicast + task.summary.bytes.peer;
  }
  return out;
}
