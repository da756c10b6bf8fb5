import type { AgentSettings, OfficeType, PlanAssumptions, PlanEstimate, PlanNoSharingCode, PlanOffice, PlanSubnet } from '@fleetcast/contracts';
import { FlowGroup, Link, simulateFlows } from './flow-model';
import { placeSubnets } from './subnet-placement';

/**
 * The figures the model takes as given, each with why it has its value. Measured on the network
 * lab (`scripts/plan-check.mjs`, docs/benchmarks.md); a caller may override any of them.
 */
export const DEFAULT_PLAN_ASSUMPTIONS: PlanAssumptions = {
  // A full TCP segment carries 1448 bytes (1500 MTU - 20 IP - 32 TCP with timestamps) in a frame
  // of 1514 (+14 Ethernet): 1514 / 1448 = 1.0456, what the lab's WAN counters show over the origin's count.
  wireOverhead: 1514 / 1448,
  // Task creation -> assignment over JetStream -> manifest, download token, first byte: about a
  // second on the lab (the agents log their assignment 0.4 s after creation).
  startupSeconds: 1,
  // The subnet's election and every target's JOIN: the lab's sessions started 3.5-4.5 s after the
  // task's creation (two election rounds of 2.5 s and 0.5 s after the assignment), well before
  // the default 60 s start delay.
  joinSeconds: 2.6,
  // After the last byte: a device's final report ingested (origin downloads), or the session's
  // last repair round and its close once every receiver said DONE (multicast: the lab's devices
  // reported 0.1-0.3 s after the session closed, 1-2 s after the representative's last WAN byte).
  finishSeconds: 1,
  // An origin on a 1 Gbit/s NIC: far above any branch link, it matters only for big central offices.
  originKbps: 1_000_000,
  // A switched LAN at 1 Gbit/s: an origin download in the central office.
  lanKbps: 1_000_000,
  // The topology service's placeholder for a drafted branch link (10 Mbit/s).
  defaultWanKbps: 10_000,
  // LAN bytes sent per package byte in a multicast session: 1.054 of headers, the rest parity and
  // repairs; the lab's sessions sent 1.08-1.11x at 2-3 % loss.
  lanOverhead: 1.1,
  // What a multicast session sustains on the LAN: the sender is not paced (without a LAN rate
  // limit), the receivers' processing bounds it. The lab's multicast phase alone (six agents and the
  // control plane on two cores) ran at 8.5 MB/s of package, ~72 Mbit/s of LAN bytes; devices with
  // a CPU each go faster, so plans behind WAN links faster than this are pessimistic until measured
  // on the fleet (override it per request).
  multicastKbps: 70_000,
  // The session's end after the representative's last WAN byte: the last blocks multicast, the
  // repair rounds the losses ask for, the DONEs gathered (or the 1.5 s quiet period). The lab's
  // sessions ended 0.5-4 s after it, most near 1.5 s (WAN 10-40 Mbit/s, 2-3 % loss).
  sessionCloseSeconds: 1,
};

export type PlanSettings = Pick<AgentSettings, 'useMulticast' | 'sessionStartDelaySeconds' | 'peerDownloadAllowed' | 'lanRateLimitKbps'>;

export interface PlanTopologyOffice {
  id: string;
  name: string;
  type: OfficeType;
  parent: string | null;
  subnets: readonly string[];
  wan: { bandwidthKbps: number } | null;
}

export interface PlanTopology {
  version: number;
  defaultOffice: string | null;
  offices: readonly PlanTopologyOffice[];
}

export interface PlanModelInput {
  packageBytes: number;
  /** The planned devices by subnet (null: devices with no subnet known). */
  subnets: ReadonlyArray<{ subnet: string | null; devices: number }>;
  /** The current topology; null: none, each subnet then stands alone behind `assumptions.defaultWanKbps`. */
  topology: PlanTopology | null;
  settings: PlanSettings;
  assumptions?: Partial<PlanAssumptions>;
}

export interface PlanModelResult {
  withSharing: PlanEstimate;
  withoutSharing: PlanEstimate;
  savedWanBytes: number;
  subnets: PlanSubnet[];
  offices: PlanOffice[];
  assumptions: PlanAssumptions;
}

/** Invalid input to the model (a caller's bug, not a user's): a stable code and what is wrong. */
export class PlanModelError extends Error {
  readonly code = 'PLAN.INVALID_INPUT';
}

const kbpsToBytesPerSecond = (kbps: number): number => (kbps * 1000) / 8;

interface SubnetContext {
  key: string;
  subnet: string | null;
  devices: number;
  office: PlanTopologyOffice | null;
  /** Links crossed from the origin to the subnet. */
  path: string[];
  /** Whether any WAN link lies on the path (the central office's subnets have none). */
  acrossWan: boolean;
  /** A connection's own ceiling (a device on a LAN with the origin, or alone behind its own link). */
  capBytesPerSecond: number | null;
  noSharing: { code: PlanNoSharingCode; message: string } | null;
}

/**
 * The what-if estimate of one distribution: per subnet and per office, the WAN bytes and the time
 * until the last device holds the package, with sharing (one WAN copy per subnet spread by the
 * subnet's multicast session, where the settings and the office's type allow it) and without (one
 * WAN copy per device). Links are shared along the office parent chain: a branch's downloads and
 * its sub-branches' all cross the branch's link to its parent. Pure.
 */
export function planDistribution(input: PlanModelInput): PlanModelResult {
  const a: PlanAssumptions = { ...DEFAULT_PLAN_ASSUMPTIONS, ...input.assumptions };
  if (!(input.packageBytes >= 0) || !Number.isFinite(input.packageBytes)) throw new PlanModelError(`packageBytes must be a number of bytes (got ${input.packageBytes})`);
  for (const [name, value] of Object.entries(a)) {
    if (!(value > 0) && !(value === 0 && (name === 'startupSeconds' || name === 'joinSeconds' || name === 'finishSeconds' || name === 'sessionCloseSeconds'))) throw new PlanModelError(`assumption ${name} must be above 0 (got ${value})`);
  }
  const topology = input.topology;
  const officeById = new Map((topology?.offices ?? []).map((o) => [o.id, o]));
  const central = topology?.offices.find((o) => o.parent === null) ?? null;
  const placement = topology
    ? placeSubnets(
        input.subnets.flatMap((s) => (s.subnet === null ? [] : [s.subnet])),
        topology.offices,
        topology.defaultOffice ?? central?.id ?? null,
      )
    : new Map<string, { officeId: string | null; placed: boolean }>();

  const links: Link[] = [{ id: 'origin', bytesPerSecond: kbpsToBytesPerSecond(a.originKbps) }];
  for (const o of topology?.offices ?? []) if (o.wan) links.push({ id: `wan:${o.id}`, bytesPerSecond: kbpsToBytesPerSecond(o.wan.bandwidthKbps) });

  /** The WAN links from an office up to the central office. */
  const chainOf = (office: PlanTopologyOffice): string[] => {
    const path: string[] = [];
    const seen = new Set<string>();
    for (let o: PlanTopologyOffice | undefined = office; o && !seen.has(o.id); o = o.parent === null ? undefined : officeById.get(o.parent)) {
      seen.add(o.id);
      if (o.wan) path.push(`wan:${o.id}`);
    }
    return path;
  };

  const contexts: SubnetContext[] = input.subnets
    .filter((s) => s.devices > 0)
    .map((s, index) => {
      const key = s.subnet ?? `(no subnet ${index})`;
      const profileOff = input.settings.useMulticast ? null : { code: 'profile-disables-multicast' as const, message: 'the settings do not use multicast: every device downloads from the origin' };
      if (s.subnet === null) {
        // Devices whose subnet is unknown: each alone, behind a link of the default bandwidth.
        return {
          key,
          subnet: null,
          devices: s.devices,
          office: null,
          path: ['origin'],
          acrossWan: true,
          capBytesPerSecond: kbpsToBytesPerSecond(a.defaultWanKbps),
          noSharing: { code: 'no-subnet' as const, message: 'no subnet is known for these devices: each downloads from the origin' },
        };
      }
      if (!topology) {
        const id = `wan:subnet:${s.subnet}`;
        links.push({ id, bytesPerSecond: kbpsToBytesPerSecond(a.defaultWanKbps) });
        return { key, subnet: s.subnet, devices: s.devices, office: null, path: ['origin', id], acrossWan: true, capBytesPerSecond: null, noSharing: profileOff };
      }
      const officeId = placement.get(s.subnet)?.officeId ?? null;
      const office = officeId === null ? null : officeById.get(officeId) ?? null;
      const chain = office ? chainOf(office) : [];
      const officeOff =
        office && office.type !== 'default'
          ? { code: 'office-type' as const, message: `office ${office.id} is a ${office.type} office: its devices take no part in multicast sessions and download from the origin` }
          : null;
      return {
        key,
        subnet: s.subnet,
        devices: s.devices,
        office,
        path: ['origin', ...chain],
        acrossWan: chain.length > 0,
        // On the origin's own side of every WAN link, a download is bounded by its LAN.
        capBytesPerSecond: chain.length > 0 ? null : kbpsToBytesPerSecond(a.lanKbps),
        noSharing: profileOff ?? officeOff,
      };
    });

  const copyWire = input.packageBytes * a.wireOverhead;
  const sessionStart = Math.min(input.settings.sessionStartDelaySeconds, a.joinSeconds);
  const lanSeconds = (input.packageBytes * a.lanOverhead * 8) / (Math.min(input.settings.lanRateLimitKbps ?? Infinity, a.multicastKbps) * 1000);

  const scenario = (sharing: boolean) => {
    const groups: FlowGroup[] = contexts.map((c) => {
      const multicast = sharing && c.noSharing === null;
      return {
        id: c.key,
        connections: multicast ? 1 : c.devices,
        bytesPerConnection: copyWire,
        path: c.path,
        startSeconds: a.startupSeconds + (multicast ? sessionStart : 0),
        capBytesPerSecond: c.capBytesPerSecond,
      };
    });
    const ends = simulateFlows(links, groups);
    return new Map(
      contexts.map((c, i) => {
        const multicast = sharing && c.noSharing === null;
        const copies = multicast ? 1 : c.devices;
        const start = groups[i].startSeconds;
        // The representative multicasts while its own download runs: the LAN follows the WAN unless it is the slower.
        const last = multicast && c.devices > 1 ? Math.max(ends.get(c.key)!, start + lanSeconds) + a.sessionCloseSeconds : ends.get(c.key)!;
        return [
          c.key,
          {
            wanBytes: c.acrossWan ? Math.round(copyWire * copies) : 0,
            originBytes: input.packageBytes * copies,
            seconds: round1(last + a.finishSeconds),
            sessionStartSeconds: multicast ? round1(start) : null,
          },
        ];
      }),
    );
  };
  const shared = scenario(true);
  const alone = scenario(false);

  const subnets: PlanSubnet[] = contexts.map((c) => {
    const w = shared.get(c.key)!;
    const wo = alone.get(c.key)!;
    return {
      subnet: c.subnet,
      officeId: c.office?.id ?? null,
      devices: c.devices,
      sharing: c.noSharing === null ? 'multicast' : 'none',
      noSharing: c.noSharing,
      withSharing: w,
      withoutSharing: { wanBytes: wo.wanBytes, originBytes: wo.originBytes, seconds: wo.seconds },
    };
  });

  const total = (pick: (s: PlanSubnet) => PlanEstimate): PlanEstimate => ({
    wanBytes: subnets.reduce((n, s) => n + pick(s).wanBytes, 0),
    originBytes: subnets.reduce((n, s) => n + pick(s).originBytes, 0),
    seconds: subnets.reduce((n, s) => Math.max(n, pick(s).seconds), 0),
  });
  const withSharing = total((s) => s.withSharing);
  const withoutSharing = total((s) => s.withoutSharing);

  return {
    withSharing,
    withoutSharing,
    savedWanBytes: withoutSharing.wanBytes - withSharing.wanBytes,
    subnets,
    offices: topology ? officeFigures(topology, subnets, chainOfficeIds(officeById)) : [],
    assumptions: a,
  };
}

/** An office and its ancestors, nearest first. */
function chainOfficeIds(officeById: ReadonlyMap<string, PlanTopologyOffice>): (id: string) => string[] {
  return (id) => {
    const ids: string[] = [];
    for (let o = officeById.get(id); o && !ids.includes(o.id); o = o.parent === null ? undefined : officeById.get(o.parent)) ids.push(o.id);
    return ids;
  };
}

/** Per office with targets in it or below it: its own subnets' figures and what its link carries. */
function officeFigures(topology: PlanTopology, subnets: readonly PlanSubnet[], chain: (id: string) => string[]): PlanOffice[] {
  const figures = new Map<string, PlanOffice>();
  const entry = (o: PlanTopologyOffice): PlanOffice => {
    let f = figures.get(o.id);
    if (!f) {
      const zero = { wanBytes: 0, originBytes: 0, seconds: 0, linkBytes: 0 };
      f = { id: o.id, name: o.name, type: o.type, parent: o.parent, wanBandwidthKbps: o.wan?.bandwidthKbps ?? null, devices: 0, subnets: 0, withSharing: { ...zero }, withoutSharing: { ...zero } };
      figures.set(o.id, f);
    }
    return f;
  };
  const byId = new Map(topology.offices.map((o) => [o.id, o]));
  for (const s of subnets) {
    if (s.officeId === null) continue;
    const own = entry(byId.get(s.officeId)!);
    own.devices += s.devices;
    own.subnets += 1;
    for (const [to, from] of [[own.withSharing, s.withSharing], [own.withoutSharing, s.withoutSharing]] as const) {
      to.wanBytes += from.wanBytes;
      to.originBytes += from.originBytes;
      to.seconds = Math.max(to.seconds, from.seconds);
    }
    for (const id of chain(s.officeId)) {
      const o = byId.get(id)!;
      if (!o.wan) continue;
      const f = entry(o);
      f.withSharing.linkBytes += s.withSharing.wanBytes;
      f.withoutSharing.linkBytes += s.withoutSharing.wanBytes;
    }
  }
  // In document order: the tree as the administrator wrote it.
  return topology.offices.flatMap((o) => (figures.has(o.id) ? [figures.get(o.id)!] : []));
}

const round1 = (n: number): number => Math.round(n * 10) / 10;
