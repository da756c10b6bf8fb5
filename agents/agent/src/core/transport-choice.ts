import type { DeviceOfficePolicy } from '@fleetcast/contracts';

/**
 * How a task's package reaches this device (docs/p2p.md), from the agent's switches, the task's
 * settings and the office's type:
 * - a `vpn` office: the origin, always (its devices share nothing);
 * - the subnet's multicast session, when the task asks for multicast, the agent takes part in
 *   sessions, and the office allows multicast (no topology: allowed, as before offices);
 * - the office's swarm, when the task allows peer downloads, the agent serves and fetches from
 *   peers, and the device is placed in an office (the swarm is per office: without a topology, or
 *   for a device in no office's subnets, there is none);
 * - else the origin, with the reason.
 * Pure: the daemon logs and reports the choice and its reason.
 */
export type TransportChoice = { kind: 'multicast' } | { kind: 'swarm' } | { kind: 'origin'; reason: string };

export interface TransportInput {
  multicastEnabled: boolean;
  peersEnabled: boolean;
  settings: { useMulticast: boolean; peerDownloadAllowed: boolean };
  office: DeviceOfficePolicy | null;
}

export function chooseTransport(input: TransportInput): TransportChoice {
  const { office, settings } = input;
  if (office !== null && !office.policy.shareWithPeers) {
    return { kind: 'origin', reason: `office ${office.office.id} is a ${office.office.type} office: its devices never share, each downloads from the origin` };
  }
  const multicastAllowed = office === null || office.policy.multicastDiscovery;
  if (settings.useMulticast && input.multicastEnabled && multicastAllowed) return { kind: 'multicast' };
  // An unplaced device is in the default office by policy only: its LAN is unknown, so no swarm.
  if (settings.peerDownloadAllowed && input.peersEnabled && office !== null && office.placed) return { kind: 'swarm' };
  if (!settings.peerDownloadAllowed && !settings.useMulticast) return { kind: 'origin', reason: "the task's settings allow neither multicast nor peer downloads" };
  if (office === null) return { kind: 'origin', reason: 'no topology places this device in an office: no swarm' + (settings.useMulticast ? ' (and multicast is off on this agent)' : '') };
  if (!office.placed) return { kind: 'origin', reason: `this device is in no office's subnets (unplaced, in the default office ${office.office.id}): no swarm` };
  if (!input.peersEnabled) return { kind: 'origin', reason: 'peer downloads are off on this agent' + (settings.useMulticast && !multicastAllowed ? ` and office ${office.office.id} (${office.office.type}) takes no part in multicast` : '') };
  return { kind: 'origin', reason: settings.useMulticast && !multicastAllowed ? `office ${office.office.id} (${office.office.type}) takes no part in multicast and the task allows no peer downloads` : 'multicast is off on this agent and the task allows no peer downloads' };
}
