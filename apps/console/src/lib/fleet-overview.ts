import type { Device, Subnet } from '@fleetcast/contracts';

/** The fleet at a glance, from the inventory's devices and subnets. */
export interface FleetOverview {
  devices: number;
  online: number;
  stale: number;
  /** Agent versions, most common first; `unsupported` counts devices kept out of distribution. */
  versions: Array<{ version: string; devices: number; unsupported: number }>;
  platforms: Array<{ platform: string; devices: number }>;
  subnets: number;
}

export function fleetOverview(devices: readonly Device[], subnets: readonly Subnet[]): FleetOverview {
  const versions = new Map<string, { devices: number; unsupported: number }>();
  const platforms = new Map<string, number>();
  let stale = 0;
  for (const d of devices) {
    if (d.stale) stale += 1;
    const v = versions.get(d.agentVersion) ?? { devices: 0, unsupported: 0 };
    v.devices += 1;
    if (d.versionStatus?.state === 'unsupported-version') v.unsupported += 1;
    versions.set(d.agentVersion, v);
    platforms.set(d.platform, (platforms.get(d.platform) ?? 0) + 1);
  }
  return {
    devices: devices.length,
    online: devices.length - stale,
    stale,
    versions: [...versions.entries()].map(([version, v]) => ({ version, ...v })).sort((a, b) => b.devices - a.devices || a.version.localeCompare(b.version)),
    platforms: [...platforms.entries()].map(([platform, n]) => ({ platform, devices: n })).sort((a, b) => b.devices - a.devices || a.platform.localeCompare(b.platform)),
    subnets: subnets.length,
  };
}
