import { Inject, Injectable } from '@nestjs/common';
import {
  OfficeList,
  DeviceOffice,
  DeviceOfficePolicy,
  DevicePeers,
  DevicePlaced,
  DevicePlacedV1,
  DevicePlacement,
  InventoryScanV1,
  WanPath,
} from '@fleetcast/contracts';
import type { OutboxMessage } from '@fleetcast/persistence';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';
import { officePolicy, usableAddresses } from '../core/topology-model';
import { TopologyOutbox } from '../outbox/topology-outbox.service';
import { CurrentTopology, CurrentTopologyView } from '../topology/current-topology';
import { NoTopologyError, TopologyDeviceUnknownError } from '../topology/topology.exception';
import { TopologyRepository } from '../topology/topology.repository';
import { PlacementRepository, PlacementRow, PlacementWrite } from './placement.repository';

/** The `device.placed` event of a device whose office (or placed flag) changed. */
export function placedEvent(write: Pick<PlacementWrite, 'deviceId' | 'officeId' | 'placed' | 'address'>, previousOfficeId: string | null, version: number, now: Date): OutboxMessage {
  const event: DevicePlacedV1 = {
    deviceId: write.deviceId,
    officeId: write.officeId!,
    previousOfficeId,
    placed: write.placed,
    address: write.address,
    topologyVersion: version,
    placedAt: now.toISOString(),
  };
  return { subject: DevicePlaced.subject(write.deviceId), payload: event };
}

/**
 * Devices in offices: placed by the addresses of their scans as they arrive, and the questions the
 * other services and the agents ask about a device (its office and parents, its peers, its WAN
 * path, its office's policy).
 */
@Injectable()
export class PlacementService {
  constructor(
    private readonly placements: PlacementRepository,
    private readonly topologies: TopologyRepository,
    private readonly current: CurrentTopology,
    private readonly outbox: TopologyOutbox,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Places the devices of a batch of scans in one transaction. Idempotent: a scan whose sequence
   * number is not above the stored one changes nothing (a redelivery, or a late older scan). The
   * state row is held FOR SHARE, so an upload waits for the batch and the batch never places by a
   * version that is being replaced.
   */
  async placeScans(scans: InventoryScanV1[], now = new Date()): Promise<void> {
    const newest = new Map<string, InventoryScanV1>();
    for (const scan of scans) {
      const seen = newest.get(scan.deviceId);
      if (!seen || scan.scanSeq > seen.scanSeq) newest.set(scan.deviceId, scan);
    }
    const moved = await this.placements.transaction(async (manager) => {
      const version = await this.topologies.lockState(manager, 'share');
      const topology = version === null ? null : await this.current.at(version, manager);
      const stored = await this.placements.lock(manager, [...newest.keys()].sort());
      const writes: PlacementWrite[] = [];
      const events: OutboxMessage[] = [];
      for (const scan of newest.values()) {
        const before = stored.get(scan.deviceId);
        if (before && Number(before.scanSeq) >= scan.scanSeq) continue;
        const addresses = scan.interfaces.flatMap((nic) => nic.addresses.map((a) => a.address));
        const write = this.placementOf(scan.deviceId, scan.scanSeq, addresses, topology);
        writes.push(write);
        if (topology && (before?.officeId !== write.officeId || before?.placed !== write.placed)) {
          events.push(placedEvent(write, before?.officeId ?? null, topology.version.version, now));
        }
      }
      await this.placements.write(manager, writes, now);
      await this.outbox.enqueue(manager, events);
      return events.length;
    });
    if (moved > 0) {
      this.outbox.kick();
      this.logger.debug({ moved }, 'devices placed');
    }
  }

  private placementOf(deviceId: string, scanSeq: number, addresses: string[], topology: CurrentTopologyView | null): PlacementWrite {
    if (!topology) {
      return { deviceId, officeId: null, placed: false, address: null, addresses: usableAddresses(addresses).map((a) => a.address), scanSeq, topologyVersion: null };
    }
    const placement = topology.model.place(addresses);
    return { deviceId, ...placement, scanSeq, topologyVersion: topology.version.version };
  }

  async listUnplaced(limit: number, offset: number): Promise<{ items: DevicePlacement[]; total: number }> {
    const topology = await this.requireTopology();
    const { items, total } = await this.placements.listUnplaced(limit, offset);
    return { items: items.map((row) => this.toPlacement(row, topology)), total };
  }

  /** The current topology's offices in document order, a page at a time, each with its device count. */
  async listOffices(limit: number, offset: number): Promise<OfficeList> {
    const topology = await this.requireTopology();
    const offices = topology.model.document.offices;
    const page = offices.slice(offset, offset + limit);
    const counts = await this.placements.deviceCounts(page.map((o) => o.id));
    return { items: page.map((o) => ({ ...o, deviceCount: counts.get(o.id) ?? 0 })), total: offices.length, topologyVersion: topology.version.version };
  }

  async deviceOffice(deviceId: string): Promise<DeviceOffice> {
    const { row, topology } = await this.locate(deviceId);
    const placement = this.toPlacement(row, topology);
    return { ...placement, parents: topology.model.parentsOf(placement.office.id).map((o) => topology.model.ref(o.id)) };
  }

  /**
   * The devices a device may share content with: the other placed devices of its office, when its
   * office's type allows sharing. An unplaced device is named no peer (its LAN is unknown), and is
   * named to nobody as one.
   */
  async devicePeers(deviceId: string, limit: number): Promise<DevicePeers> {
    const { row, topology } = await this.locate(deviceId);
    const placement = this.toPlacement(row, topology);
    const policy = officePolicy(placement.office.type);
    const base = { deviceId, office: placement.office, policy };
    if (!placement.placed) {
      return { ...base, noSharingReason: `device ${deviceId} is in no office's subnets (unplaced, in the default office "${placement.office.id}"): its LAN is unknown`, peers: [], total: 0 };
    }
    if (!policy.shareWithPeers) {
      return { ...base, noSharingReason: `office "${placement.office.id}" is a ${placement.office.type} office: its devices never share content with each other`, peers: [], total: 0 };
    }
    const { items, total } = await this.placements.peers(placement.office.id, deviceId, limit);
    return { ...base, noSharingReason: null, peers: items, total };
  }

  async wanPath(deviceId: string): Promise<WanPath> {
    const { row, topology } = await this.locate(deviceId);
    const placement = this.toPlacement(row, topology);
    const links = topology.model.wanPath(placement.office.id);
    return {
      deviceId,
      office: placement.office,
      origin: { officeId: topology.model.central.id, addresses: topology.model.document.origin.addresses },
      links,
      bottleneckKbps: links.length === 0 ? null : Math.min(...links.map((l) => l.bandwidthKbps)),
    };
  }

  /** What an agent needs of its office; an unplaced device gets the default office's policy, as it is put there. */
  async policy(deviceId: string): Promise<DeviceOfficePolicy> {
    const { row, topology } = await this.locate(deviceId);
    const placement = this.toPlacement(row, topology);
    const office = topology.model.office(placement.office.id)!;
    return {
      deviceId,
      topologyVersion: topology.version.version,
      office: placement.office,
      placed: placement.placed,
      policy: officePolicy(office.type),
      wanBandwidthKbps: office.wan?.bandwidthKbps ?? null,
      bottleneckKbps: topology.model.bottleneckKbps(office.id),
      wanRateCapKbps: office.wan?.rateCapKbps ?? null,
    };
  }

  private async requireTopology(): Promise<CurrentTopologyView> {
    const topology = await this.current.get();
    if (!topology) throw new NoTopologyError();
    return topology;
  }

  private async locate(deviceId: string): Promise<{ row: PlacementRow; topology: CurrentTopologyView }> {
    const topology = await this.requireTopology();
    const row = await this.placements.get(deviceId);
    if (!row) throw new TopologyDeviceUnknownError(deviceId);
    return { row, topology };
  }

  /**
   * A stored placement as the contract has it. A row placed under another version than the one just
   * read (an upload committed in between) is placed again from its addresses: the answer always
   * matches the version it names.
   */
  private toPlacement(row: PlacementRow, topology: CurrentTopologyView): DevicePlacement {
    const version = topology.version.version;
    const placement =
      row.topologyVersion === version && row.officeId !== null
        ? { officeId: row.officeId, placed: row.placed, address: row.address }
        : topology.model.place(row.addresses);
    return {
      deviceId: row.deviceId,
      office: topology.model.ref(placement.officeId),
      placed: placement.placed,
      address: placement.address,
      addresses: row.addresses,
      topologyVersion: version,
      updatedAt: row.updatedAt.toISOString(),
    };
  }
}
