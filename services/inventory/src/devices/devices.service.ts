import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, RESOLVE_PAGE_DEVICES } from '@fleetcast/contracts';
import type { Device, DeviceAddresses, InventoryRpc, InventoryScanV1, ResolvedTargets, ResolvedTargetsPage, RpcResponse, Subnet } from '@fleetcast/contracts';
import { counter, histogram, Logger, Registry } from '@fleetcast/telemetry';
import { LOGGER, METRICS } from '@fleetcast/service-kit';
import { INVENTORY_CONFIG, InventoryConfig } from '../config/inventory.config';
import { agentVersionStatus } from './agent-version';
import { latestScanPerDevice, toDeviceRecord, unstorableReason } from './device-record';
import { DeviceFilter, DeviceRow, DeviceSubnetRow, DevicesRepository } from './devices.repository';
import { DeviceNotFoundError, InvalidSubnetError, UnstorableScanError } from './devices.exception';
import { compareCidr, deriveSubnet, familyOf, normaliseCidr } from './subnet';

export interface IngestOutcome {
  /** Scans that replaced a device's stored state (or created the device). */
  applied: number;
  /** Scans that changed nothing: an older or repeated scanSeq, or a newer scan of the same device in the batch. */
  superseded: number;
}

export type ListDevicesRequest = Pick<DeviceFilter, 'platform' | 'subnet' | 'stale' | 'versionState'> & { limit: number; offset: number };

export interface VersionReevaluation {
  /** Distinct agent versions judged again. */
  versions: number;
  /** Devices whose stored status was replaced. */
  devices: number;
}

export interface ResolveTargetsRequest {
  deviceIds?: string[];
  query?: { platform?: DeviceFilter['platform']; subnet?: string; hostnamePrefix?: string; includeStale: boolean };
}

export interface ResolveTargetsPageRequest extends ResolveTargetsRequest {
  after?: string;
  limit?: number;
}

type ResolvedDevice = ResolvedTargets['devices'][number];

/** Batch sizes seen by ingestion: from a lone scan on an idle system to the configured maximum. */
const BATCH_SIZE_BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

@Injectable()
export class DevicesService {
  private readonly ingested;
  private readonly batchSizes;

  constructor(
    private readonly repository: DevicesRepository,
    @Inject(INVENTORY_CONFIG) private readonly config: Pick<InventoryConfig, 'STALE_AFTER_SECONDS' | 'SUPPORTED_AGENT_VERSIONS'>,
    @Inject(METRICS) metrics: Registry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.ingested = counter(metrics, 'fleetcast_inventory_scans_ingested_total', 'Inventory scans handled, by whether they changed the stored device', [
      'result',
    ]);
    this.batchSizes = histogram(metrics, 'fleetcast_inventory_scan_batch_size', 'Scans per ingestion batch (one transaction each)', [], BATCH_SIZE_BUCKETS);
  }

  /**
   * Stores a batch of scans in one transaction, idempotently: only the newest scan of each device
   * counts, and only if it is newer than what is stored.
   */
  async ingest(scans: readonly InventoryScanV1[]): Promise<IngestOutcome> {
    for (const scan of scans) {
      const reason = unstorableReason(scan);
      if (reason !== null) throw new UnstorableScanError(scan.deviceId, reason);
    }
    const latest = latestScanPerDevice(scans);
    const written = await this.repository.upsertNewer(latest.map((scan) => toDeviceRecord(scan, this.config.SUPPORTED_AGENT_VERSIONS)));
    const outcome = { applied: written.length, superseded: scans.length - written.length };
    this.ingested.inc({ result: 'applied' }, outcome.applied);
    this.ingested.inc({ result: 'superseded' }, outcome.superseded);
    this.batchSizes.observe(scans.length);
    this.logger.debug({ scans: scans.length, devices: latest.length, ...outcome }, 'scan batch stored');
    return outcome;
  }

  /**
   * Judges again the devices whose agent version was judged against another range than the
   * configured one (the range changed, or the rows predate version statuses): one UPDATE per
   * distinct agent version, so the work grows with the versions in the fleet, not its devices.
   * Run at start, before scans are ingested; scans then store their status as they arrive.
   */
  async reevaluateAgentVersions(): Promise<VersionReevaluation> {
    const range = this.config.SUPPORTED_AGENT_VERSIONS;
    const versions = await this.repository.agentVersionsJudgedOtherwise(range);
    let devices = 0;
    const unsupported: string[] = [];
    for (const version of versions) {
      const status = agentVersionStatus(version, range);
      if (status.state !== 'supported') unsupported.push(version);
      devices += await this.repository.setVersionStatus(version, status, range);
    }
    if (versions.length > 0) {
      this.logger.info({ range, versions: versions.length, devices, unsupportedVersions: unsupported }, 'agent versions judged against the supported range');
    }
    return { versions: versions.length, devices };
  }

  async getDevice(id: string): Promise<Device> {
    const row = await this.repository.findById(id, this.config.STALE_AFTER_SECONDS);
    if (!row) throw new DeviceNotFoundError(id);
    return toDevice(row);
  }

  /** Pages through devices in ID order; `subnet` matches a device's primary subnet, as listSubnets counts it. */
  async listDevices(request: ListDevicesRequest): Promise<RpcResponse<typeof InventoryRpc.listDevices>> {
    const filter: DeviceFilter = {
      platform: request.platform,
      subnet: request.subnet === undefined ? undefined : subnetFilter('subnet', request.subnet),
      stale: request.stale,
      versionState: request.versionState,
    };
    const { rows, total } = await this.repository.list(filter, { limit: request.limit, offset: request.offset }, this.config.STALE_AFTER_SECONDS);
    return { items: rows.map(toDevice), total };
  }

  /**
   * The subnet map: each primary subnet with its device and stale counts, IPv4 first in address
   * order, a page at a time (`total` counts them all). One grouped scan of the devices' primary
   * subnets (indexed); a fleet has far fewer subnets than devices, so they are ordered here, where
   * the order is the one `compareCidr` defines for every list of subnets.
   */
  async listSubnets(page: { limit: number; offset: number } = { limit: Number.MAX_SAFE_INTEGER, offset: 0 }): Promise<{ items: Subnet[]; total: number }> {
    const rows = await this.repository.subnets(this.config.STALE_AFTER_SECONDS);
    const items = rows
      .map((row) => ({ cidr: row.cidr, family: familyOf(row.cidr), deviceCount: row.deviceCount, staleCount: row.staleCount }))
      .sort((a, b) => compareCidr(a.cidr, b.cidr));
    return { items: items.slice(page.offset, page.offset + page.limit), total: items.length };
  }

  /**
   * Each device's address on `subnet` (the first of its interface addresses that belongs to it):
   * where the devices of a LAN session reach each other's block servers when multicast cannot tell
   * them. Devices the inventory does not know, or that have no address there, are left out.
   */
  async deviceAddresses(deviceIds: readonly string[], subnet: string): Promise<DeviceAddresses> {
    const cidr = subnetFilter('subnet', subnet);
    const items: DeviceAddresses['items'] = [];
    for (const row of await this.repository.interfacesOf([...new Set(deviceIds)])) {
      const address = row.interfaces
        .flatMap((i) => i.addresses)
        .find((a) => {
          const derived = deriveSubnet(a.address, a.prefixLength);
          return derived.ok && derived.cidr === cidr;
        })?.address;
      if (address !== undefined) items.push({ deviceId: row.id, address });
    }
    return { items };
  }

  /**
   * Resolves a target set: the explicit IDs first, in the order given (unknown ones reported with
   * `known: false`; a stale device named explicitly is still a target), then the devices the query
   * matches that were not named. Neither given: no targets. Known devices are grouped by primary
   * subnet for the multicast layer; those without a usable address have no group. A device whose
   * agent version is not supported stays a target, marked `excluded` with the reason, so that the
   * task records why it gets nothing instead of the device vanishing from the target set; it is in
   * no group.
   */
  /**
   * One page of a target set (`InventoryRpc.resolveTargetsPage`): the explicit IDs given, in their
   * order (unknown ones with `known: false`), or the next devices a query matches in ID order.
   */
  async resolveTargetsPage(request: ResolveTargetsPageRequest): Promise<ResolvedTargetsPage> {
    if (request.deviceIds) {
      const explicit = [...new Set(request.deviceIds)];
      const known = new Map((await this.repository.primarySubnetsOf(explicit)).map((row) => [row.id, row]));
      return {
        devices: explicit.map((deviceId) => {
          const row = known.get(deviceId);
          return row ? resolvedDevice(row) : { deviceId, subnet: null, known: false };
        }),
        next: null,
      };
    }
    const query = request.query!;
    const limit = request.limit ?? RESOLVE_PAGE_DEVICES;
    // One more than the page: whether a next page exists, without a count over the fleet.
    const rows = await this.repository.matchingPage(
      {
        platform: query.platform,
        subnet: query.subnet === undefined ? undefined : subnetFilter('query.subnet', query.subnet),
        hostnamePrefix: query.hostnamePrefix,
        stale: query.includeStale ? undefined : false,
      },
      this.config.STALE_AFTER_SECONDS,
      request.after,
      limit + 1,
    );
    const page = rows.slice(0, limit);
    return { devices: page.map(resolvedDevice), next: rows.length > limit ? page[page.length - 1]!.id : null };
  }

  async resolveTargets(request: ResolveTargetsRequest): Promise<ResolvedTargets> {
    const explicit = [...new Set(request.deviceIds ?? [])];
    const query = request.query;
    const [knownRows, matched] = await Promise.all([
      this.repository.primarySubnetsOf(explicit),
      query
        ? this.repository.matching(
            {
              platform: query.platform,
              subnet: query.subnet === undefined ? undefined : subnetFilter('query.subnet', query.subnet),
              hostnamePrefix: query.hostnamePrefix,
              stale: query.includeStale ? undefined : false,
            },
            this.config.STALE_AFTER_SECONDS,
          )
        : Promise.resolve([]),
    ]);
    const known = new Map(knownRows.map((row) => [row.id, row]));
    const devices: ResolvedDevice[] = explicit.map((deviceId) => {
      const row = known.get(deviceId);
      return row ? resolvedDevice(row) : { deviceId, subnet: null, known: false };
    });
    const named = new Set(explicit);
    for (const row of matched) {
      if (!named.has(row.id)) devices.push(resolvedDevice(row));
    }
    return { devices, bySubnet: groupBySubnet(devices) };
  }
}

/** A known device as a target; `excluded` only when its agent version is not supported (the field is absent otherwise). */
function resolvedDevice(row: DeviceSubnetRow): ResolvedDevice {
  const device: ResolvedDevice = { deviceId: row.id, subnet: row.primarySubnet, known: true };
  if (row.versionState !== 'supported') {
    device.excluded = { code: ErrorCode.AgentUnsupportedVersion, message: row.versionReason ?? `agent version state ${row.versionState}` };
  }
  return device;
}

/**
 * Groups known devices that have a subnet, in the order the subnets sort, each group in target
 * order. Excluded devices take no part in distribution, so in no group either.
 */
export function groupBySubnet(devices: readonly ResolvedDevice[]): ResolvedTargets['bySubnet'] {
  const groups = new Map<string, string[]>();
  for (const device of devices) {
    if (!device.known || device.subnet === null || device.excluded) continue;
    const group = groups.get(device.subnet);
    if (group) group.push(device.deviceId);
    else groups.set(device.subnet, [device.deviceId]);
  }
  return [...groups.entries()].sort(([a], [b]) => compareCidr(a, b)).map(([subnet, deviceIds]) => ({ subnet, deviceIds }));
}

function subnetFilter(path: string, value: string): string {
  const normalised = normaliseCidr(value);
  if (!normalised) throw new InvalidSubnetError(path, value);
  return normalised.cidr;
}

function toDevice(row: DeviceRow): Device {
  return {
    id: row.id,
    hostname: row.hostname,
    platform: row.platform,
    osVersion: row.osVersion,
    agentVersion: row.agentVersion,
    interfaces: row.interfaces,
    subnets: row.subnets,
    cachedContentIds: row.cachedContentIds,
    cacheFreeBytes: Number(row.cacheFreeBytes),
    lastSeenAt: row.lastSeenAt.toISOString(),
    stale: row.stale,
    versionStatus: { state: row.versionState, reason: row.versionReason },
  };
}
