import type { Plan, PlanRequest, WanSavingsReport } from '@fleetcast/contracts';
import { UsageError } from '../errors';
import { formatPlan, formatWanSavings } from '../output/plan-format';
import { CliContext } from './cli-context';
import { targetsOf } from './requests';

export interface PlanOptions {
  package?: string;
  /** Device IDs, comma-separated, possibly repeated. */
  targets?: string[];
  device?: string[];
  platform?: string;
  subnet?: string;
  hostnamePrefix?: string;
  includeStale?: boolean;
  profile?: string;
  /** commander's `--no-multicast`: false when given. */
  multicast?: boolean;
  startDelaySeconds?: number;
  lanRateKbps?: number;
  defaultWanKbps?: number;
}

/** `POST /v1/plans` from `plan`'s options: explicit devices or an inventory query, not both. Pure. */
export function planRequest(options: PlanOptions): PlanRequest {
  if (!options.package) throw new UsageError('plan needs --package ID');
  const devices = [...(options.targets ?? []).flatMap((t) => t.split(',')), ...(options.device ?? [])].map((d) => d.trim()).filter((d) => d !== '');
  const targets = targetsOf(devices, options, { command: 'plan', deviceFlags: '--targets, --device', deviceHint: '--targets ID,ID,... (or --device ID, repeated)' });
  const settings = {
    ...(options.multicast === false ? { useMulticast: false } : {}),
    ...(options.startDelaySeconds !== undefined ? { sessionStartDelaySeconds: options.startDelaySeconds } : {}),
    ...(options.lanRateKbps !== undefined ? { lanRateLimitKbps: options.lanRateKbps } : {}),
  };
  return {
    packageId: options.package,
    targets,
    ...(options.profile ? { profileId: options.profile } : {}),
    ...(Object.keys(settings).length > 0 ? { settings } : {}),
    ...(options.defaultWanKbps !== undefined ? { defaultWanBandwidthKbps: options.defaultWanKbps } : {}),
  };
}

export async function plan(ctx: CliContext, options: PlanOptions): Promise<number> {
  const request = planRequest(options);
  const answer = await (await ctx.api()).post<Plan>('/v1/plans', request);
  ctx.result(answer, () => formatPlan(answer));
  return 0;
}

export interface WanSavingsOptions {
  from?: string;
  to?: string;
  groupBy?: string;
}

/** The last 30 days when no range is given: about a month of rollouts. */
const DEFAULT_REPORT_DAYS = 30;

/** The report's query from `reports wan-savings`' options; `now` for the default range. Pure. */
export function wanSavingsQuery(options: WanSavingsOptions, now: number): { from: string; to: string; groupBy: string } {
  const time = (name: string, value: string | undefined, fallback: number): string => {
    if (value === undefined) return new Date(fallback).toISOString();
    const at = new Date(value);
    if (Number.isNaN(at.getTime())) throw new UsageError(`${name} "${value}" is not a date and time (e.g. 2025-06-01 or 2025-06-01T22:00:00Z)`);
    return at.toISOString();
  };
  const to = time('--to', options.to, now);
  const from = time('--from', options.from, Date.parse(to) - DEFAULT_REPORT_DAYS * 86_400_000);
  if (Date.parse(from) >= Date.parse(to)) throw new UsageError(`--from (${from}) must be before --to (${to})`);
  const groupBy = options.groupBy ?? 'subnet';
  if (groupBy !== 'subnet' && groupBy !== 'office') throw new UsageError(`--group-by must be subnet or office, not "${groupBy}"`);
  return { from, to, groupBy };
}

export async function wanSavings(ctx: CliContext, options: WanSavingsOptions): Promise<number> {
  const report = await (await ctx.api()).get<WanSavingsReport>('/v1/reports/wan-savings', wanSavingsQuery(options, ctx.io.now()));
  ctx.result(report, () => formatWanSavings(report));
  return 0;
}
