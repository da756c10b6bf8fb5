import { Inject, Injectable } from '@nestjs/common';
import {
  DEFAULT_AGENT_SETTINGS,
  ErrorCode,
  FleetcastError,
  InventoryRpc,
  Plan,
  PlanRequest,
  planRequestSchema,
  Profile,
  RESOLVE_PAGE_DEVICES,
  ResolvedTargetsPage,
  StoredTopology,
  TasksRpc,
  TopologyRpc,
} from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { planDistribution, PlanTopology } from '@fleetcast/planning';
import { z } from 'zod';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway.config';

/** The planner's link per subnet without a topology, when the configuration names none: 10 Mbit/s. */
const FALLBACK_DEFAULT_WAN_KBPS = 10_000;
/** Unknown device IDs a 404 names; the count is always complete. */
const MAX_NAMED_UNKNOWN = 10;
/** Profiles read to find the default one (there are a handful in practice). */
const PROFILE_PAGE = 1000;

/**
 * The what-if planner: gathers what the services know (the package's size from tasks, the
 * targets by subnet from the inventory, offices and WAN links from topology, the settings from the
 * profile) and runs the pure model of `@fleetcast/planning` over them. Stores nothing.
 */
@Injectable()
export class PlansService {
  constructor(
    private readonly rpc: RpcClient,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  async plan(request: z.output<typeof planRequestSchema>): Promise<Plan> {
    const [pkg, profile, resolved, topology] = await Promise.all([
      this.rpc.call(TasksRpc.getPackage, { id: request.packageId }),
      this.profile(request.profileId),
      this.resolvePages(request.targets),
      this.currentTopology(),
    ]);
    if (pkg.size === null) {
      throw new FleetcastError(ErrorCode.PackageNotReady, `package ${pkg.id} has no content yet, so its size is unknown: upload it with PUT /v1/packages/${pkg.id}/content`);
    }
    const seen = new Set<string>();
    const devices = resolved.filter((d) => !seen.has(d.deviceId) && seen.add(d.deviceId));
    const unknown = devices.filter((d) => !d.known).map((d) => d.deviceId);
    if (unknown.length > 0) {
      const named = unknown.slice(0, MAX_NAMED_UNKNOWN).join(', ');
      throw new FleetcastError(
        ErrorCode.DeviceNotFound,
        `${unknown.length} target device(s) unknown to the inventory: ${named}${unknown.length > MAX_NAMED_UNKNOWN ? ', ...' : ''}`,
        [{ path: 'targets.deviceIds', message: `unknown: ${named}` }],
      );
    }
    if (devices.length === 0) throw new FleetcastError(ErrorCode.NoTargets, 'the targets match no device: nothing to plan');
    const excluded = devices.flatMap((d) => (d.excluded ? [{ deviceId: d.deviceId, code: d.excluded.code, message: d.excluded.message }] : []));
    // Excluded devices take no part (as in a task); the others by subnet, those without one together.
    const bySubnet = new Map<string | null, number>();
    for (const d of devices) if (!d.excluded) bySubnet.set(d.subnet, (bySubnet.get(d.subnet) ?? 0) + 1);
    const subnets = [...bySubnet].map(([subnet, count]) => ({ subnet, devices: count }));
    const settings = {
      useMulticast: profile.useMulticast,
      sessionStartDelaySeconds: profile.sessionStartDelaySeconds,
      peerDownloadAllowed: profile.peerDownloadAllowed,
      lanRateLimitKbps: profile.lanRateLimitKbps,
      ...request.settings,
    };
    const model = planDistribution({
      packageBytes: pkg.size,
      subnets,
      topology,
      settings,
      assumptions: {
        ...request.assumptions,
        defaultWanKbps: request.defaultWanBandwidthKbps ?? request.assumptions?.defaultWanKbps ?? this.config.planDefaultWanKbps ?? FALLBACK_DEFAULT_WAN_KBPS,
      },
    });
    return {
      packageId: pkg.id,
      packageBytes: pkg.size,
      devices: subnets.reduce((n, s) => n + s.devices, 0),
      excluded,
      settings: { ...settings, profileId: profile.id },
      topologyVersion: topology?.version ?? null,
      ...model,
    };
  }

  /**
   * The target set, a page at a time as the tasks service resolves it (explicit IDs first, then
   * the query), so that every request and reply stays within NATS's payload limit at any size.
   */
  private async resolvePages(targets: PlanTargets): Promise<ResolvedTargetsPage['devices']> {
    const devices: ResolvedTargetsPage['devices'] = [];
    const explicit = targets.deviceIds ?? [];
    for (let i = 0; i < explicit.length; i += RESOLVE_PAGE_DEVICES) {
      devices.push(...(await this.rpc.call(InventoryRpc.resolveTargetsPage, { deviceIds: explicit.slice(i, i + RESOLVE_PAGE_DEVICES) })).devices);
    }
    if (targets.query) {
      let after: string | undefined;
      do {
        const page = await this.rpc.call(InventoryRpc.resolveTargetsPage, { query: targets.query, ...(after ? { after } : {}) });
        devices.push(...page.devices);
        after = page.next ?? undefined;
      } while (after !== undefined);
    }
    return devices;
  }

  /** The profile asked for, else the default one (the built-in defaults if none is marked). */
  private async profile(profileId: string | undefined): Promise<Pick<Profile, 'id' | 'useMulticast' | 'sessionStartDelaySeconds' | 'peerDownloadAllowed' | 'lanRateLimitKbps'>> {
    if (profileId !== undefined) return this.rpc.call(TasksRpc.getProfile, { id: profileId });
    const { items } = await this.rpc.call(TasksRpc.listProfiles, { limit: PROFILE_PAGE, offset: 0 });
    return items.find((p) => p.isDefault) ?? { id: 'default', ...DEFAULT_AGENT_SETTINGS };
  }

  /** The current topology, or null when none was uploaded (the model then plans by subnet alone). */
  private async currentTopology(): Promise<PlanTopology | null> {
    let stored: StoredTopology;
    try {
      stored = await this.rpc.call(TopologyRpc.get, {});
    } catch (error) {
      if (error instanceof FleetcastError && error.code === ErrorCode.NoTopology) return null;
      throw error;
    }
    return { version: stored.version.version, defaultOffice: stored.document.defaultOffice, offices: stored.document.offices };
  }
}

type PlanTargets = z.output<typeof planRequestSchema>['targets'];

export type { PlanRequest };
