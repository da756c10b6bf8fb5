/** Display formatting: pure, locale-independent so that tests and screenshots read the same everywhere. */

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'] as const;

/** 1536 → "1.5 KB": binary multiples (1 KB = 1024 B), as the CLI shows them; one decimal below 100. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${bytes} B`;
  return `${value < 100 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`;
}

/** A share of a whole as a whole percentage, floored so that 100 % means all of it: 0.999 → "99 %". */
export function formatPercent(part: number, whole: number): string {
  if (whole <= 0) return '0 %';
  return `${Math.floor((Math.min(part, whole) / whole) * 100)} %`;
}

/** The percentage as a number 0..100 (for a progress bar's value). */
export function percentOf(part: number, whole: number): number {
  if (whole <= 0) return 0;
  return Math.floor((Math.min(Math.max(part, 0), whole) / whole) * 100);
}

/** Seconds as "45 s", "3 min 20 s", "2 h 5 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const minutes = Math.floor((s % 3600) / 60);
  return `${Math.floor(s / 3600)} h${minutes ? ` ${minutes} min` : ''}`;
}

/** An ISO time as "2026-12-03 08:42:17 UTC"; "–" for none. UTC, so that every operator reads the same time. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** How long ago, for "last seen": "just now", "5 min ago", "3 h ago", "2 days ago". */
export function formatAgo(iso: string, now: number): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  const days = Math.floor(seconds / 86_400);
  return `${days} day${days === 1 ? '' : 's'} ago`;
}

/** An ID shortened for a table cell, the whole ID kept for the title. */
export function shortId(id: string, keep = 8): string {
  return id.length <= keep + 1 ? id : `${id.slice(0, keep)}…`;
}
