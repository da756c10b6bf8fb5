import type { CreatePackage, CreateTask, DeviceQuery } from '@fleetcast/contracts';
import { UsageError } from '../errors';

/**
 * The command line turned into API requests: pure functions, so that every rule about options is
 * tested without a server. The server validates again; these catch what a person gets wrong
 * before anything is sent (a bad platform before a gigabyte is hashed).
 */

export const PLATFORMS = ['windows', 'macos', 'linux'] as const;
export const TASK_ACTIONS = ['install', 'cache-only'] as const;

export interface PackageUploadOptions {
  name?: string;
  version?: string;
  platform?: string;
  installCommand?: string;
  arg?: string[];
  successExitCode?: number[];
  timeoutSeconds?: number;
  confidential?: boolean;
}

/** `POST /v1/packages` from `packages upload`'s options. */
export function createPackageRequest(options: PackageUploadOptions): CreatePackage {
  const missing = (['name', 'version', 'platform', 'installCommand'] as const).filter((key) => !options[key]);
  if (missing.length > 0) throw new UsageError(`packages upload needs ${missing.map(optionName).join(', ')} (or --package ID to upload the content of an existing package)`);
  const platform = oneOf('--platform', options.platform!, PLATFORMS);
  return {
    name: options.name!,
    version: options.version!,
    platform,
    installCommand: options.installCommand!,
    installArgs: options.arg ?? [],
    ...(options.successExitCode?.length ? { successExitCodes: options.successExitCode } : {}),
    ...(options.timeoutSeconds !== undefined ? { timeoutSeconds: options.timeoutSeconds } : {}),
    ...(options.confidential ? { confidential: true } : {}),
  };
}

export interface TaskCreateOptions {
  package?: string;
  action?: string;
  device?: string[];
  platform?: string;
  subnet?: string;
  hostnamePrefix?: string;
  includeStale?: boolean;
  profile?: string;
  name?: string;
  startAt?: string;
}

/** `POST /v1/tasks`: explicit devices or an inventory query, not both. */
export function createTaskRequest(options: TaskCreateOptions): CreateTask {
  if (!options.package) throw new UsageError('tasks create needs --package ID');
  if (!options.action) throw new UsageError(`tasks create needs --action (${TASK_ACTIONS.join(' or ')})`);
  const action = oneOf('--action', options.action, TASK_ACTIONS);
  const targets = targetsOf(options.device ?? [], options, { command: 'tasks create', deviceFlags: '--device', deviceHint: '--device ID (repeat for more)' });
  let startAt: string | undefined;
  if (options.startAt) {
    const at = new Date(options.startAt);
    if (Number.isNaN(at.getTime())) throw new UsageError(`--start-at "${options.startAt}" is not a date and time (e.g. 2025-06-01T22:00:00Z)`);
    startAt = at.toISOString();
  }
  return {
    packageId: options.package,
    action,
    targets,
    ...(options.profile ? { profileId: options.profile } : {}),
    ...(options.name ? { name: options.name } : {}),
    ...(startAt ? { startAt } : {}),
  };
}

/** The options that make an inventory query of targets, as `tasks create` and `plan` take them. */
export interface TargetQueryOptions {
  platform?: string;
  subnet?: string;
  hostnamePrefix?: string;
  includeStale?: boolean;
}

/**
 * A command's targets: explicit devices or an inventory query, never both and never neither (a
 * usage error naming the command's own flags otherwise).
 */
export function targetsOf(
  devices: string[],
  options: TargetQueryOptions,
  usage: { command: string; deviceFlags: string; deviceHint: string },
): { deviceIds: string[] } | { query: DeviceQuery } {
  const query: DeviceQuery = {
    ...(options.platform ? { platform: oneOf('--platform', options.platform, PLATFORMS) } : {}),
    ...(options.subnet ? { subnet: options.subnet } : {}),
    ...(options.hostnamePrefix ? { hostnamePrefix: options.hostnamePrefix } : {}),
    ...(options.includeStale ? { includeStale: true } : {}),
  };
  const byQuery = Object.keys(query).length > 0;
  if (devices.length > 0 && byQuery) throw new UsageError(`give devices (${usage.deviceFlags}) or a query (--platform, --subnet, --hostname-prefix), not both`);
  if (devices.length === 0 && !byQuery) throw new UsageError(`${usage.command} needs targets: ${usage.deviceHint} or a query (--platform, --subnet, --hostname-prefix)`);
  return devices.length > 0 ? { deviceIds: devices } : { query };
}

export interface PageOptions {
  limit?: number;
  offset?: number;
}

export interface PackageListOptions extends PageOptions {
  name?: string;
  status?: string;
  createdAfter?: string;
  createdBefore?: string;
}

/** `GET /v1/packages`'s query: the filters, times as ISO 8601 (a date alone is its midnight UTC). */
export function packageListQuery(options: PackageListOptions): Record<string, string | number | undefined> {
  const time = (name: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    const at = new Date(value);
    if (Number.isNaN(at.getTime())) throw new UsageError(`${name} "${value}" is not a date and time (e.g. 2025-06-01 or 2025-06-01T22:00:00Z)`);
    return at.toISOString();
  };
  return {
    ...pageQuery(options),
    name: options.name,
    status: options.status === undefined ? undefined : oneOf('--status', options.status, ['awaiting-content', 'ready'] as const),
    createdAfter: time('--created-after', options.createdAfter),
    createdBefore: time('--created-before', options.createdBefore),
  };
}

/** The pagination every list route takes. */
export function pageQuery(options: PageOptions): { limit?: number; offset?: number } {
  return { limit: options.limit, offset: options.offset };
}

/** An integer option value within bounds (commander hands options over as strings). */
export function parseIntOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, not "${value}"`);
    return n;
  };
}

/** A number of seconds, fractions allowed (`--interval 0.5`). */
export function parseSecondsOption(name: string, min: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min) throw new UsageError(`${name} must be a number of seconds of at least ${min}, not "${value}"`);
    return n;
  };
}

/** Collects a repeated option into an array. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${name} must be one of ${allowed.join(', ')}, not "${value}"`);
  return value as T;
}

function optionName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
