import type { Plan } from '@fleetcast/contracts';

/** A plan as the API answers it, for the CLI's tests (no test of its own: it is data). */
const MiB = 1024 * 1024;
const est = (wanMiB: number, seconds: number) => ({ wanBytes: wanMiB * MiB, originBytes: wanMiB * MiB, seconds });

export const samplePlan: Plan = {
  packageId: 'pkg-1',
  packageBytes: 20 * MiB,
  devices: 7,
  excluded: [{ deviceId: 'old-1', code: 'AGENT.UNSUPPORTED_VERSION', message: 'agent 0.1 is not supported' }],
  settings: { profileId: 'default', useMulticast: true, sessionStartDelaySeconds: 60, peerDownloadAllowed: true, lanRateLimitKbps: null },
  topologyVersion: 4,
  withSharing: est(60, 25),
  withoutSharing: est(140, 95),
  savedWanBytes: 80 * MiB,
  subnets: [
    { subnet: '10.1.1.0/24', officeId: 'lyon', devices: 5, sharing: 'multicast', noSharing: null, withSharing: { ...est(20, 12), sessionStartSeconds: 3 }, withoutSharing: est(100, 45) },
    { subnet: '10.8.0.0/24', officeId: 'home', devices: 2, sharing: 'none', noSharing: { code: 'office-type', message: 'vpn' }, withSharing: { ...est(40, 25), sessionStartSeconds: null }, withoutSharing: est(40, 25) },
  ],
  offices: [
    { id: 'lyon', name: 'Lyon', type: 'default', parent: 'hq', wanBandwidthKbps: 20000, devices: 5, subnets: 1, withSharing: { ...est(20, 12), linkBytes: 20 * MiB }, withoutSharing: { ...est(100, 45), linkBytes: 100 * MiB } },
  ],
  assumptions: { wireOverhead: 1.0456, startupSeconds: 1, joinSeconds: 2, finishSeconds: 1, originKbps: 1e6, lanKbps: 1e6, defaultWanKbps: 10000, lanOverhead: 1.1, multicastKbps: 70000, sessionCloseSeconds: 1 },
};

