import { formatBytes, formatDuration } from '../output/format';

/**
 * A transfer's progress as pure state: bytes done, the rate over a recent window and the time
 * left. Time is a parameter, so tests feed samples instead of sleeping.
 */

/** The rate is measured over the last few seconds: steady enough to read, quick to follow a change of speed. */
export const RATE_WINDOW_MS = 5_000;

export interface TransferProgress {
  readonly total: number;
  readonly done: number;
  readonly startedAtMs: number;
  /** Recent (time, bytes done) samples, oldest first, spanning at most RATE_WINDOW_MS. */
  readonly samples: ReadonlyArray<{ atMs: number; done: number }>;
}

export function startTransfer(total: number, nowMs: number): TransferProgress {
  return { total, done: 0, startedAtMs: nowMs, samples: [{ atMs: nowMs, done: 0 }] };
}

/**
 * The transfer goes on from `done` (a resumed upload, or one set back after a break): the bytes
 * before it count as done, and the rate is measured afresh from here.
 */
export function resumeAt(progress: TransferProgress, done: number, nowMs: number): TransferProgress {
  const at = Math.max(0, Math.min(progress.total, done));
  return { ...progress, done: at, samples: [{ atMs: nowMs, done: at }] };
}

/** `bytes` more were sent at `nowMs`. */
export function advance(progress: TransferProgress, bytes: number, nowMs: number): TransferProgress {
  const done = Math.min(progress.total, progress.done + bytes);
  const samples = [...progress.samples, { atMs: nowMs, done }];
  // Keep one sample at or before the window's start, so the window is always full once it can be.
  while (samples.length > 2 && samples[1].atMs <= nowMs - RATE_WINDOW_MS) samples.shift();
  return { ...progress, done, samples };
}

/** Bytes a second over the window; undefined before any time has passed. */
export function rateOf(progress: TransferProgress): number | undefined {
  const first = progress.samples[0];
  const last = progress.samples[progress.samples.length - 1];
  const ms = last.atMs - first.atMs;
  return ms > 0 ? ((last.done - first.done) * 1000) / ms : undefined;
}

/** Seconds left at the current rate; 0 when done, undefined while the rate is unknown or nil. */
export function etaSecondsOf(progress: TransferProgress): number | undefined {
  if (progress.done >= progress.total) return 0;
  const rate = rateOf(progress);
  return rate && rate > 0 ? (progress.total - progress.done) / rate : undefined;
}

export function percentOf(progress: TransferProgress): number {
  return progress.total === 0 ? 100 : Math.floor((progress.done * 100) / progress.total);
}

/** The values a progress bar shows, formatted. */
export function progressFields(progress: TransferProgress): { done: string; total: string; percent: number; rate: string; eta: string } {
  const rate = rateOf(progress);
  return {
    done: formatBytes(progress.done),
    total: formatBytes(progress.total),
    percent: percentOf(progress),
    rate: rate === undefined ? '--/s' : `${formatBytes(Math.round(rate))}/s`,
    eta: formatDuration(etaSecondsOf(progress)),
  };
}

/** The plain line a non-interactive run prints: `upload 12.0 MiB / 48.0 MiB (25%) 4.0 MiB/s ETA 9s`. */
export function progressLine(label: string, progress: TransferProgress): string {
  const f = progressFields(progress);
  return `${label} ${f.done} / ${f.total} (${f.percent}%) ${f.rate} ETA ${f.eta} [${progress.done} bytes]`;
}
