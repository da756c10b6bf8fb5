import type { Activation, Device, Package, Task, WebhookSubscription } from '@fleetcast/contracts';

/**
 * What a person reads: tables and key-value blocks from the API's JSON. Pure, so the layout is
 * tested without a server; `--json` bypasses all of it and prints the API's answer as it came.
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Bytes in binary units, one decimal from KiB on: `0 B`, `1.5 MiB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** A duration for an ETA: `45s`, `3m05s`, `2h04m`; `--` when unknown. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | boolean | null | undefined;
}

/** Left-aligned columns two spaces apart, a header line first; `(none)` for no rows. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((row) => columns.map((c) => cellText(c.value(row))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i].length)));
  const line = (values: string[]) => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]))).join('  ');
  return [line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join('\n');
}

/** `key: value` lines, keys aligned. */
export function keyValues(entries: ReadonlyArray<[string, string | number | boolean | null | undefined]>): string {
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${cellText(v)}`).join('\n');
}

/** "N of M shown" under a page that is not the whole list. */
export function pageFooter(shown: number, total: number, offset = 0): string | undefined {
  if (shown >= total && offset === 0) return undefined;
  return `${shown} of ${total} shown (from ${offset}); use --offset and --limit for more`;
}

export function formatPackageList(list: { items: Package[]; total: number }, offset?: number): string {
  return withFooter(
    table(list.items, [
      { header: 'id', value: (p) => p.id },
      { header: 'name', value: (p) => p.name },
      { header: 'version', value: (p) => p.version },
      { header: 'platform', value: (p) => p.platform },
      { header: 'status', value: (p) => p.status },
      { header: 'size', value: (p) => (p.size === null ? '' : formatBytes(p.size)) },
      { header: 'created', value: (p) => p.createdAt },
    ]),
    pageFooter(list.items.length, list.total, offset),
  );
}

export function formatPackage(p: Package): string {
  return keyValues([
    ['id', p.id],
    ['name', p.name],
    ['version', p.version],
    ['platform', p.platform],
    ['status', p.status],
    ['size', p.size === null ? null : `${formatBytes(p.size)} (${p.size} bytes)`],
    ['sha256', p.contentId],
    ['confidential', p.confidential ? 'yes (the content is sealed; sha256 is the ciphertext\'s)' : 'no'],
    ['install', [p.installCommand, ...p.installArgs].map(shellQuote).join(' ')],
    ['success exit codes', p.successExitCodes.join(', ')],
    ['timeout', `${p.timeoutSeconds}s`],
    ['created', p.createdAt],
  ]);
}

export function formatTaskList(list: { items: Task[]; total: number }, offset?: number): string {
  return withFooter(
    table(list.items, [
      { header: 'id', value: (t) => t.id },
      { header: 'name', value: (t) => t.name },
      { header: 'action', value: (t) => t.action },
      { header: 'status', value: (t) => t.status },
      { header: 'devices', value: (t) => t.summary.total },
      { header: 'succeeded', value: (t) => t.summary.counts.succeeded ?? 0 },
      { header: 'failed', value: (t) => t.summary.counts.failed ?? 0 },
      { header: 'created', value: (t) => t.createdAt },
    ]),
    pageFooter(list.items.length, list.total, offset),
  );
}

export function formatTask(t: Task, stateLine: string, bytesLine: string): string {
  const reasons = (t.summary.reasons ?? []).map((r) => `  ${r.state} ${r.code} (${r.devices} device${r.devices === 1 ? '' : 's'}): ${r.message}`);
  // Absent from an older gateway's answer; listed when some device has its office known.
  const known = (t.summary.offices ?? []).some((o) => o.officeId !== null);
  const offices = known
    ? (t.summary.offices ?? []).map(
        (o) =>
          `  ${o.officeId === null ? '(no office)' : o.name && o.name !== o.officeId ? `${o.officeId} (${o.name})` : o.officeId}: ${o.devices} device${o.devices === 1 ? '' : 's'}, ` +
          `WAN ${formatBytes(o.wanBytes)}, saved ${formatBytes(o.savedBytes)}`,
      )
    : [];
  return [
    keyValues([
      ['id', t.id],
      ['name', t.name],
      ['package', t.packageId],
      ['action', t.action],
      ['status', t.status],
      ['profile', t.profileId],
      ['starts', t.startAt],
      ['created', t.createdAt],
      ['devices', stateLine],
      ['bytes', bytesLine],
    ]),
    ...(reasons.length ? ['reasons:', ...reasons] : []),
    ...(offices.length ? ['offices (WAN: from the origin and the parent office; saved: from peers and multicast):', ...offices] : []),
  ].join('\n');
}

export function formatDeviceList(list: { items: Device[]; total: number }, offset?: number): string {
  return withFooter(
    table(list.items, [
      { header: 'id', value: (d) => d.id },
      { header: 'hostname', value: (d) => d.hostname },
      { header: 'platform', value: (d) => d.platform },
      { header: 'agent', value: (d) => d.agentVersion + (d.versionStatus?.state === 'unsupported-version' ? ' (unsupported)' : '') },
      { header: 'subnets', value: (d) => d.subnets.join(',') },
      { header: 'last seen', value: (d) => d.lastSeenAt + (d.stale ? ' (stale)' : '') },
    ]),
    pageFooter(list.items.length, list.total, offset),
  );
}

/** `total` is absent from an older server's answer, which listed every subnet. */
export function formatSubnetList(list: { items: Array<{ cidr: string; family: string; deviceCount: number; staleCount: number }>; total?: number }, offset?: number): string {
  return withFooter(
    table(list.items, [
      { header: 'subnet', value: (s) => s.cidr },
      { header: 'family', value: (s) => s.family },
      { header: 'devices', value: (s) => s.deviceCount },
      { header: 'stale', value: (s) => s.staleCount },
    ]),
    pageFooter(list.items.length, list.total ?? list.items.length, offset),
  );
}

export function formatWebhookList(list: { items: WebhookSubscription[]; total: number }, offset?: number): string {
  return withFooter(
    table(list.items, [
      { header: 'id', value: (w) => w.id },
      { header: 'url', value: (w) => w.url },
      { header: 'events', value: (w) => w.events.join(',') },
      { header: 'enabled', value: (w) => (w.enabled ? 'yes' : 'no') },
      { header: 'secret', value: (w) => `...${w.secretHint}` },
    ]),
    pageFooter(list.items.length, list.total, offset),
  );
}

export function formatActivation(a: Activation): string {
  const steps = a.steps.map((s) => {
    const progress = s.total !== null ? ` ${s.done ?? 0}/${s.total}` : '';
    return `  ${s.name.padEnd(9)} ${s.state}${progress}${s.detail ? `: ${s.detail}` : ''}`;
  });
  return [
    keyValues([
      ['id', a.id],
      ['state', a.state],
      ['started', `${a.startedAt} by ${a.startedBy}`],
      ['finished', a.finishedAt],
      ...(a.error ? ([['error', `${a.error.code}: ${a.error.message}`]] as Array<[string, string]>) : []),
    ]),
    'steps:',
    ...steps,
  ].join('\n');
}

/** The argument as a POSIX shell would need it quoted, so that a shown command can be read back. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function withFooter(text: string, footer: string | undefined): string {
  return footer ? `${text}\n${footer}` : text;
}

function cellText(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined || value === '') return '-';
  return String(value);
}
