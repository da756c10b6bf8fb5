import type { NatsConnection } from 'nats';
import { DeviceOffice, ErrorCode, InventoryRpc, ResolvedTargetsPage, RpcReply, TopologyRpc } from '@fleetcast/contracts';
import { decodeJson, encodeJson } from '@fleetcast/nats';

/** A device the topology placed in `office` by `address`, below `parents` (nearest first). */
export function placedDevice(deviceId: string, office: DeviceOffice['office'], address: string, parents: DeviceOffice['parents']): DeviceOffice {
  return { deviceId, office, placed: true, address, addresses: [address], topologyVersion: 1, updatedAt: new Date().toISOString(), parents };
}

/**
 * Stands in for the inventory (every target known, in `subnetOf`'s subnet or none) and the topology
 * service (`placements`; any other device is unknown, TOPOLOGY.DEVICE_UNKNOWN). `onOfficeAsked`
 * sees each device the tasks service asks about.
 */
export function standInForInventoryAndTopology(
  nc: NatsConnection,
  options: { targets: readonly string[]; subnetOf?: Record<string, string>; placements: Record<string, DeviceOffice>; onOfficeAsked?: (deviceId: string) => void },
): void {
  const resolved: ResolvedTargetsPage = { devices: options.targets.map((deviceId) => ({ deviceId, subnet: options.subnetOf?.[deviceId] ?? null, known: true })), next: null };
  nc.subscribe(InventoryRpc.resolveTargetsPage.subject, { callback: (e, m) => !e && m.respond(encodeJson({ ok: true, data: resolved } satisfies RpcReply)) });
  nc.subscribe(TopologyRpc.deviceOffice.subject, {
    callback: (e, m) => {
      if (e) return;
      const decoded = decodeJson(m.data);
      const deviceId = decoded.ok ? (decoded.value as { deviceId: string }).deviceId : '';
      options.onOfficeAsked?.(deviceId);
      const office = options.placements[deviceId];
      const reply: RpcReply = office
        ? { ok: true, data: office }
        : { ok: false, error: { code: ErrorCode.TopologyDeviceUnknown, message: `device ${deviceId} is not placed` } };
      m.respond(encodeJson(reply));
    },
  });
}
