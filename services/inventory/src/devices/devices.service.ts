import { Inject, Injectable } from '@nestjs/common';
import type { Device, DeviceAddresses, InventoryRpc, InventoryScanV1, ResolvedTargets, RpcResponse, Subnet } from '@fleetcast/contracts';
import { counter, histogram, Logger, Registry } from '@fleetcast/telemetry';
import { LOGGER, METRICS } from '@fleetcast/service-kit';
import { INVENTORY_CONFIG, InventoryConfig } from '../config/inventory.config';
import { latestScanPerDevice, toDeviceRecord, unstorableReason } from './device-record';
import { DeviceFilter, DeviceRow, DevicesRepository } from './devices.repository';
import { DeviceNotFoundError, InvalidSubnetError, UnstorableScanError } from './devices.exception';
import { compareCidr, deriveSubnet, familyOf, normaliseCidr } from './subnet';

export interface IngestOutcome {
  /** Scans that replaced a device's stored state (or created the device). */
  applied: number;
  /** Scans that changed nothing: an older or repeated scanSeq, or a newer scan of the same device in the batch. */
  superseded: number;
}

export type ListDevicesRequest = Pick<DeviceFilter, 'platform' | 'subnet' | 'stale'> & { limit: number; offset: number };

export interface ResolveTargetsRequest {
  deviceIds?: string[];
  query?: { platform?: DeviceFilter['platform']; subnet?: string; hostnamePrefix?: string; includeStale: boolean };
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
    @Inject(INVENTORY_CONFIG) private readonly config: Pick<InventoryConfig, 'STALE_AFTER_SECONDS'>,
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
    const written = await this.repository.upsertNewer(latest.map(toDeviceRecord));
    const outcome = { applied: written.length, superseded: scans.length - written.length };
    this.ingested.inc({ result: 'applied' }, outcome.applied);
    this.ingested.inc({ result: 'superseded' }, outcome.superseded);
    this.batchSizes.observe(scans.length);
    this.logger.debug({ scans: scans.length, devices: latest.length, ...outcome }, 'scan batch stored');
    return outcome;
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
    };
    const { rows, total } = await this.repository.list(filter, { limit: request.limit, offset: request.offset }, this.config.STALE_AFTER_SECONDS);
    return { items: rows.map(toDevice), total };
  }

  /** The subnet map: each primary subnet with its device and stale counts, IPv4 first in address order. */
  async listSubnets(): Promise<{ items: Subnet[] }> {
    const rows = await this.repository.subnets(this.config.STALE_AFTER_SECONDS);
    const items = rows
      .map((row) => ({ cidr: row.cidr, family: familyOf(row.cidr), deviceCount: row.deviceCount, staleCount: row.staleCount }))
      .sort((a, b) => compareCidr(a.cidr, b.cidr));
    return { items };
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
   * subnet for the multicast layer; those without a usable address have no group.
   */
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
    const known = new Map(knownRows.map((row) => [row.id, row.primarySubnet]));
    const devices: ResolvedDevice[] = explicit.map((deviceId) =>
      known.has(deviceId) ? { deviceId, subnet: known.get(deviceId) ?? null, known: true } : { deviceId, subnet: null, known: false },
    );
    const named = new Set(explicit);
    for (const row of matched) {
      if (!named.has(row.id)) devices.push({ deviceId: row.id, subnet: row.primarySubnet, known: true });
    }
    return { devices, bySubnet: groupBySubnet(devices) };
  }
}

/** Groups known devices that have a subnet, in the order the subnets sort, each group in target order. */
export function groupBySubnet(devices: readonly ResolvedDevice[]): ResolvedTargets['bySubnet'] {
  const groups = new Map<string, string[]>();
  for (const device of devices) {
    if (!device.known || device.subnet === null) continue;
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
  };
}
