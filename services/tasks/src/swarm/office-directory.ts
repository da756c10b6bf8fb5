import { Inject, Injectable } from '@nestjs/common';
import { DeviceOffice, ErrorCode, FleetcastError, TopologyRpc } from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { LOGGER } from '@fleetcast/service-kit';
import type { Logger } from '@fleetcast/telemetry';

/** Where a device stands for the swarm: its office and parent, or why it has none. */
export type DeviceStanding = { kind: 'placed'; office: DeviceOffice } | { kind: 'none'; reason: string };

/**
 * The office to record for a device in a task (the task summary's per-office figures): its office
 * when the topology placed it there; null when it is in no office's subnets (its LAN, and so its
 * WAN link, is unknown); undefined when the topology cannot say (none uploaded, device not scanned
 * yet): what is recorded stays.
 */
export function officeToRecord(standing: DeviceStanding): { id: string; name: string } | null | undefined {
  if (standing.kind === 'none') return undefined;
  return standing.office.placed ? { id: standing.office.office.id, name: standing.office.office.name } : null;
}

/** Whether two recorded offices (null: none) are the same, name included. */
export function sameOffice(a: { id: string; name: string } | null, b: { id: string; name: string } | null): boolean {
  return a === null || b === null ? a === b : a.id === b.id && a.name === b.name;
}

/**
 * A device's office changes only with a new topology or a new address; a device announces every
 * second while it downloads. Asking the topology service once per 30 s per device keeps its load at
 * 1/30 of the announces; a device moved to another office is seen within 30 s.
 */
const STANDING_TTL_MS = 30_000;
/** A device not placed yet is placed at its next scan: asked again soon, so that its swarm starts within seconds. */
const NO_STANDING_TTL_MS = 3_000;
/** Devices remembered: a swarm of every device of a large fleet at once stays within a few tens of MB. */
const MAX_STANDINGS = 100_000;
const TOPOLOGY_TIMEOUT_MS = 3_000;

/** The devices' offices as the topology service places them, remembered briefly. */
@Injectable()
export class OfficeDirectory {
  private readonly standings = new Map<string, { at: number; standing: DeviceStanding }>();

  constructor(
    private readonly rpc: RpcClient,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async standing(deviceId: string, now = Date.now()): Promise<DeviceStanding> {
    const known = this.standings.get(deviceId);
    if (known && now - known.at < (known.standing.kind === 'placed' ? STANDING_TTL_MS : NO_STANDING_TTL_MS)) return known.standing;
    const standing = await this.ask(deviceId);
    this.standings.delete(deviceId);
    if (this.standings.size >= MAX_STANDINGS) this.standings.delete(this.standings.keys().next().value as string);
    this.standings.set(deviceId, { at: now, standing });
    return standing;
  }

  private async ask(deviceId: string): Promise<DeviceStanding> {
    try {
      const office = await this.rpc.call(TopologyRpc.deviceOffice, { deviceId }, { timeoutMs: TOPOLOGY_TIMEOUT_MS });
      return { kind: 'placed', office };
    } catch (error) {
      if (error instanceof FleetcastError && error.code === ErrorCode.NoTopology) return { kind: 'none', reason: 'no topology is uploaded: offices are unknown' };
      if (error instanceof FleetcastError && error.code === ErrorCode.TopologyDeviceUnknown) return { kind: 'none', reason: `the topology has not placed device ${deviceId} yet (no scan of it)` };
      // Not remembered as an answer would be: the caller fails this announce and the device asks again.
      this.logger.warn({ deviceId, err: (error as Error).message }, 'no office from the topology service for a swarm announce');
      throw new FleetcastError(ErrorCode.Unavailable, `the topology service did not say where device ${deviceId} is: ${(error as Error).message}`);
    }
  }
}
