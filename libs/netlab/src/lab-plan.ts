import { formatSubnet, hostAddress, lastHostOffset, parseSubnet, subnetsOverlap, type Ipv4Subnet } from './ipv4';
import { LabError } from './lab-error';

/** The WAN link between the core and one branch router. */
export interface WanSpec {
  /** Rate of each direction, shaped with a token bucket (tbf) on both ends of the link. */
  rateMbit: number;
  /**
   * One-way delay. Not built yet: the kernel here has no netem and the lab has no delay line, so a
   * value above 0 is refused (`LAB.UNSUPPORTED`) rather than silently ignored.
   */
  delayMs?: number;
  /** Token bucket depth; by default the larger of 32 KiB and 10 ms at the rate (see `defaultBurstBytes`). */
  burstKb?: number;
}

/** Which packets the LAN loss drops: UDP only (multicast and peer traffic), or everything. */
export type LossProto = 'udp' | 'all';

export interface BranchSpec {
  /** Short name (`[a-z0-9]`, up to 16 characters); part of the router and device namespace names. */
  name: string;
  /** The branch LAN, e.g. `10.210.1.0/24`: router at host 1, devices from host 11 on. */
  subnet: string;
  /** Number of device namespaces on the branch bridge. */
  devices: number;
  wan: WanSpec;
  /** Random drop on every device's LAN ingress, 0..100 (nftables `numgen random`). */
  lanLossPercent?: number;
  /**
   * 'udp' (default) drops only UDP, so that TCP to the origin is not disturbed unless asked;
   * 'all' drops every IPv4 packet, ARP excepted (so that neighbours still resolve).
   */
  lossProto?: LossProto;
  /**
   * MTU of the branch LAN: the bridge, both ends of every device's veth and so every device's LAN
   * interface. Absent: the kernel's default (1500). The WAN link keeps its own.
   */
  mtu?: number;
}

export interface LabSpec {
  /**
   * Prefix of every namespace, interface and nftables table the lab creates (`[a-z][a-z0-9]`, up
   * to 8 characters, so that the longest interface name still fits Linux's 15). Cleanup finds a
   * lab's leftovers by this prefix, so two labs that run at once need different names.
   */
  name: string;
  /** The core network, e.g. `10.209.0.0/24`: the core at host 1, branch routers from host 11 on. */
  core: { subnet: string };
  branches: BranchSpec[];
}

export interface DevicePlan {
  /** 1-based; the device is `d<index>` in names. */
  index: number;
  ns: string;
  address: string;
  /** The device's LAN interface (inside its namespace). */
  iface: string;
  /** The other end of the device's veth, a port of the branch bridge in the router namespace. */
  bridgePort: string;
}

export interface BranchPlan {
  /** 1-based position in the spec. */
  index: number;
  name: string;
  subnet: string;
  prefixLength: number;
  routerNs: string;
  /** The router's address on the branch LAN: every device's default gateway. */
  routerLanAddress: string;
  /** The router's address on the core network: the core's next hop to this branch. */
  routerWanAddress: string;
  bridge: string;
  /** WAN veth end in the core namespace; its egress is the branch's download direction. */
  wanCoreIface: string;
  /** WAN veth end in the router namespace; its egress is the branch's upload direction. */
  wanRouterIface: string;
  rateMbit: number;
  burstBytes: number;
  lossPercent: number;
  lossProto: LossProto;
  /** The LAN's MTU, or null for the kernel's default. */
  mtu: number | null;
  devices: DevicePlan[];
}

/**
 * The link that joins the machine's own (root) namespace to the core network, built only by
 * `attachHost`: a second core host, for programs that must run outside the lab (a service that
 * needs the machine's database) yet be reached by the devices across the shaped WAN.
 */
export interface HostPlan {
  /** The veth end in the root namespace, holding `address`. */
  iface: string;
  /** The other end: a port of the core bridge, in the core namespace. */
  bridgePort: string;
  address: string;
}

/** Every name and address the lab will create, computed from the spec without touching the system. */
export interface LabPlan {
  name: string;
  /** `${name}-`: what cleanup matches. */
  prefix: string;
  core: { ns: string; bridge: string; address: string; subnet: string; prefixLength: number };
  /** Used only once `attachHost` is called; planned always, so that names are checked up front. */
  host: HostPlan;
  branches: BranchPlan[];
  /** The nftables table (one per device namespace) that holds the loss rule. */
  lossTable: string;
}

/** Linux interface names hold at most 15 characters (IFNAMSIZ is 16 with the terminating NUL). */
export const MAX_INTERFACE_NAME = 15;
/** Interface names carry the branch index in at most 2 digits. */
export const MAX_BRANCHES = 99;
/** Interface names carry the device index in at most 3 digits. */
export const MAX_DEVICES_PER_BRANCH = 999;
/** `.1` is the gateway of every subnet: the core address on the core network, the router on a LAN. */
const GATEWAY_OFFSET = 1;
/** The host joins the core network at host 2: the first of the hosts 2..10 kept free for additions. */
const HOST_OFFSET = 2;
/**
 * Devices and routers start at host 11, so that hosts 2..10 of every subnet stay free for what a
 * later test adds by hand (a second origin, a host that forges packets) without renumbering.
 */
const FIRST_HOST_OFFSET = 10;
/**
 * A token bucket must hold at least one timer tick of tokens to reach its rate (10 ms at HZ=100,
 * the coarsest kernel clock), and never less than 32 KiB (about 22 full-size frames), so that a
 * TCP flow is not starved by a bucket smaller than its window's bursts.
 */
const MIN_BURST_BYTES = 32 * 1024;
/**
 * 10 Gbit/s: faster is no WAN, veth pairs on one machine do not go much faster, and the default
 * burst (10 ms at the rate, 12.5 MB here) stays well inside what tc accepts.
 */
export const MAX_RATE_MBIT = 10_000;
const BURST_TICK_SECONDS = 0.01;
/** 64 MiB: a full second at 512 Mbit/s; a deeper bucket would make the link unshaped for seconds. */
const MAX_BURST_KB = 64 * 1024;

/** 576: the datagram every IPv4 host must accept (RFC 791); a smaller LAN MTU is no LAN worth a lab. */
export const MIN_LAN_MTU = 576;
/** 9000: the usual jumbo frame; veths and bridges take more, switches rarely do. */
export const MAX_LAN_MTU = 9000;

const LAB_NAME = /^[a-z][a-z0-9]{0,7}$/;
const BRANCH_NAME = /^[a-z0-9]{1,16}$/;

export function defaultBurstBytes(rateMbit: number): number {
  return Math.max(MIN_BURST_BYTES, Math.ceil((rateMbit * 1e6 * BURST_TICK_SECONDS) / 8));
}

function invalid(message: string): never {
  throw new LabError('LAB.INVALID_SPEC', message);
}

/** Validates a spec and computes every name and address; throws `LAB.INVALID_SPEC` / `LAB.UNSUPPORTED`. */
export function planLab(spec: LabSpec): LabPlan {
  if (typeof spec !== 'object' || spec === null) invalid('the lab spec must be an object');
  if (typeof spec.name !== 'string' || !LAB_NAME.test(spec.name)) {
    invalid(`lab name "${String(spec.name)}" must match ${LAB_NAME} (it prefixes interface names, which Linux limits to ${MAX_INTERFACE_NAME} characters)`);
  }
  const prefix = `${spec.name}-`;
  const core = parseSubnet(spec.core?.subnet, 'core.subnet');
  if (!Array.isArray(spec.branches) || spec.branches.length === 0) invalid('branches must list at least one branch');
  if (spec.branches.length > MAX_BRANCHES) invalid(`at most ${MAX_BRANCHES} branches (interface names carry the branch number in two digits)`);
  if (FIRST_HOST_OFFSET + spec.branches.length > lastHostOffset(core)) {
    invalid(`core.subnet ${formatSubnet(core)} is too small for ${spec.branches.length} branch routers`);
  }

  const seenNames = new Set<string>();
  const subnets: Array<{ what: string; subnet: Ipv4Subnet }> = [{ what: 'core.subnet', subnet: core }];
  const branches = spec.branches.map((branch, i): BranchPlan => {
    const index = i + 1;
    const where = `branches[${i}]`;
    if (typeof branch.name !== 'string' || !BRANCH_NAME.test(branch.name)) invalid(`${where}.name "${String(branch.name)}" must match ${BRANCH_NAME}`);
    if (seenNames.has(branch.name)) invalid(`${where}.name "${branch.name}" is used twice`);
    seenNames.add(branch.name);
    const subnet = parseSubnet(branch.subnet, `${where}.subnet`);
    for (const other of subnets) {
      if (subnetsOverlap(other.subnet, subnet)) invalid(`${where}.subnet ${branch.subnet} overlaps ${other.what} ${formatSubnet(other.subnet)}`);
    }
    subnets.push({ what: `${where}.subnet`, subnet });
    if (!Number.isInteger(branch.devices) || branch.devices < 1 || branch.devices > MAX_DEVICES_PER_BRANCH) {
      invalid(`${where}.devices must be an integer from 1 to ${MAX_DEVICES_PER_BRANCH}`);
    }
    if (FIRST_HOST_OFFSET + branch.devices > lastHostOffset(subnet)) invalid(`${where}.subnet ${branch.subnet} is too small for ${branch.devices} devices`);
    const rateMbit = branch.wan?.rateMbit;
    if (typeof rateMbit !== 'number' || !(rateMbit > 0) || !(rateMbit <= MAX_RATE_MBIT)) invalid(`${where}.wan.rateMbit must be a number above 0 and at most ${MAX_RATE_MBIT}`);
    const delayMs = branch.wan.delayMs ?? 0;
    if (typeof delayMs !== 'number' || delayMs < 0) invalid(`${where}.wan.delayMs must be a number >= 0`);
    if (delayMs > 0) {
      throw new LabError('LAB.UNSUPPORTED', `${where}.wan.delayMs: a WAN delay is not built yet (this kernel has no netem and the lab has no delay line); leave it out or set 0`);
    }
    const burstKb = branch.wan.burstKb;
    if (burstKb !== undefined && (typeof burstKb !== 'number' || !(burstKb >= 2) || !(burstKb <= MAX_BURST_KB))) {
      invalid(`${where}.wan.burstKb must be from 2 (one full-size frame) to ${MAX_BURST_KB}`);
    }
    const lossPercent = branch.lanLossPercent ?? 0;
    if (typeof lossPercent !== 'number' || lossPercent < 0 || lossPercent > 100) invalid(`${where}.lanLossPercent must be from 0 to 100`);
    if (!Number.isInteger(lossPercent)) invalid(`${where}.lanLossPercent must be a whole number (nftables draws from 0..99)`);
    const lossProto = branch.lossProto ?? 'udp';
    if (lossProto !== 'udp' && lossProto !== 'all') invalid(`${where}.lossProto must be 'udp' or 'all'`);
    const mtu = branch.mtu ?? null;
    if (mtu !== null && (!Number.isInteger(mtu) || mtu < MIN_LAN_MTU || mtu > MAX_LAN_MTU)) invalid(`${where}.mtu must be a whole number from ${MIN_LAN_MTU} to ${MAX_LAN_MTU}`);

    const devices = Array.from({ length: branch.devices }, (_, d): DevicePlan => {
      const k = d + 1;
      return {
        index: k,
        ns: `${prefix}${branch.name}-d${k}`,
        address: hostAddress(subnet, FIRST_HOST_OFFSET + k),
        iface: `${prefix}${index}d${k}`,
        bridgePort: `${prefix}${index}p${k}`,
      };
    });
    return {
      index,
      name: branch.name,
      subnet: formatSubnet(subnet),
      prefixLength: subnet.prefixLength,
      routerNs: `${prefix}${branch.name}-r`,
      routerLanAddress: hostAddress(subnet, GATEWAY_OFFSET),
      routerWanAddress: hostAddress(core, FIRST_HOST_OFFSET + index),
      bridge: `${prefix}br${index}`,
      wanCoreIface: `${prefix}w${index}c`,
      wanRouterIface: `${prefix}w${index}r`,
      rateMbit,
      burstBytes: burstKb === undefined ? defaultBurstBytes(rateMbit) : Math.round(burstKb * 1024),
      lossPercent,
      lossProto,
      mtu,
      devices,
    };
  });

  const plan: LabPlan = {
    name: spec.name,
    prefix,
    core: {
      ns: `${prefix}core`,
      bridge: `${prefix}cbr`,
      address: hostAddress(core, GATEWAY_OFFSET),
      subnet: formatSubnet(core),
      prefixLength: core.prefixLength,
    },
    host: { iface: `${prefix}host`, bridgePort: `${prefix}hostp`, address: hostAddress(core, HOST_OFFSET) },
    branches,
    lossTable: `${prefix}loss`,
  };
  for (const name of interfaceNames(plan)) {
    if (name.length > MAX_INTERFACE_NAME) invalid(`interface name "${name}" is longer than ${MAX_INTERFACE_NAME} characters; use a shorter lab name`);
  }
  return plan;
}

/** Every interface the plan creates, wherever it lives. */
export function interfaceNames(plan: LabPlan): string[] {
  return [
    plan.core.bridge,
    plan.host.iface,
    plan.host.bridgePort,
    ...plan.branches.flatMap((b) => [b.bridge, b.wanCoreIface, b.wanRouterIface, ...b.devices.flatMap((d) => [d.iface, d.bridgePort])]),
  ];
}

/** Every namespace the plan creates, core first. */
export function namespaceNames(plan: LabPlan): string[] {
  return [plan.core.ns, ...plan.branches.flatMap((b) => [b.routerNs, ...b.devices.map((d) => d.ns)])];
}
