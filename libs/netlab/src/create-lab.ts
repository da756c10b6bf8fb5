import { spawn as spawnProcess, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseJsonOutput, runCommand, type CommandResult, type RunOptions } from './command-runner';
import { parseIpv4, parseSubnet, subnetSize, subnetsOverlap } from './ipv4';
import { destroyLab, destroyOnExit, listLabResources } from './lab-cleanup';
import { LabError } from './lab-error';
import { MAX_RATE_MBIT, defaultBurstBytes, namespaceNames, planLab, type BranchPlan, type DevicePlan, type LabPlan, type LabSpec } from './lab-plan';

export interface CreateLabOptions {
  /**
   * Destroy the lab when this process exits or is signalled (default true). The CLI's `up` turns
   * it off, since there the lab must outlive the command that built it.
   */
  destroyOnExit?: boolean;
}

export interface LabDevice {
  /** 1-based index within the branch. */
  index: number;
  ns: string;
  address: string;
  /** The device's LAN interface: bind multicast sockets to it, read its loss counters. */
  iface: string;
}

export interface LabBranch {
  name: string;
  subnet: string;
  routerNs: string;
  /** The devices' default gateway on the LAN. */
  routerAddress: string;
  devices: LabDevice[];
}

/** Counters of one direction of a WAN link. Bytes are Ethernet frames (IP headers and 14 bytes of Ethernet included). */
export interface WanDirection {
  bytes: number;
  packets: number;
  /** Packets the shaper dropped because its queue was full. */
  shaperDrops: number;
}

export interface WanCounters {
  branch: string;
  /** Core to branch: downloads from the origin. */
  toBranch: WanDirection;
  /** Branch to core: uploads, requests, acknowledgements. */
  fromBranch: WanDirection;
}

/** The machine's own (root) namespace as a host on the core network, after `attachHost`. */
export interface LabHost {
  /** The root-namespace end of the veth to the core bridge. */
  iface: string;
  /** Host 2 of the core subnet: bind servers that the devices must reach here. */
  address: string;
  /** Branch subnets routed from the root namespace via their router; they go with `iface`. */
  routes: Array<{ subnet: string; via: string }>;
}

export interface Lab {
  readonly name: string;
  /** Every name and address of the lab, as planned from the spec. */
  readonly plan: LabPlan;
  /** The core namespace, where NATS, the services and the origin run, and its address. */
  readonly core: { ns: string; address: string };
  readonly branches: LabBranch[];
  /** Every namespace of the lab, core first. */
  readonly namespaces: readonly string[];
  /** The root namespace's place on the core network, once `attachHost` has run; else undefined. */
  readonly host: LabHost | undefined;
  /**
   * Joins this machine's root namespace to the core network as a second core host: a veth from
   * the root namespace to the core bridge with host 2 of the core subnet, and a route to each
   * branch subnet via its router. Programs on the host bound to that address are reached by the
   * devices across the shaped WAN, like those in the core namespace. Idempotent. The link (and
   * with it the routes) goes with `destroy`, `destroyLab` and the exit hooks. Refuses
   * (`LAB.ADDRESS_IN_USE`) when the host already routes or holds part of a lab subnet.
   */
  attachHost(): Promise<LabHost>;
  /** Runs a program inside one of the lab's namespaces and waits for it. */
  exec(ns: string, cmd: string, args: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** Starts a program inside one of the lab's namespaces; `destroy()` kills it if still running. */
  spawn(ns: string, cmd: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Bytes and packets through a branch's WAN link, both ways, read on its core end. */
  wanCounters(branch: string): Promise<WanCounters>;
  /**
   * Shapes what the LAN delivers to one device (1-based `device` of `branch`) to `rateMbit`, with a
   * token bucket on its bridge port's egress: a device on a slow link (Wi-Fi, a 100 Mbit/s port
   * on a busy hub) among fast ones. Null removes the shaper. What the device sends is not shaped.
   * Returns the drops counted so far by the shaper it replaces (0 when there was none).
   */
  shapeDeviceLan(branch: string, device: number, rateMbit: number | null): Promise<number>;
  /** Kills what runs in the lab and removes all of it; idempotent. */
  destroy(): Promise<void>;
}

/** The lab speaks IPv4; these keep IPv6 router solicitations, MLD and DAD off every link and out of the WAN counters. */
const IPV6_OFF = ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'];
/**
 * The shaper drops what would wait longer than this: about what a branch router buffers. It keeps
 * a bulk TCP flow at the rate without a standing queue that hides the rate behind seconds of delay.
 */
const WAN_QUEUE_LATENCY = '100ms';
/**
 * A shaped device port drops what would wait longer than this: an access switch port's buffer, or
 * a Wi-Fi access point's queue for one client; shorter than the WAN's, since a LAN queue is shallow.
 */
const LAN_SHAPER_LATENCY = '50ms';
/** The whole IPv4 multicast range, routed onto the LAN interface so that no socket has to pick one. */
const MULTICAST_RANGE = '224.0.0.0/4';
/** Devices of one branch are set up this many at a time: quicker than one by one, gentle on 2 cores. */
const DEVICE_SETUP_CONCURRENCY = 4;

function ip(args: readonly string[]): Promise<CommandResult> {
  return runCommand('ip', args);
}

function tc(args: readonly string[]): Promise<CommandResult> {
  return runCommand('tc', args);
}

async function addNamespace(ns: string, forwarding: boolean): Promise<void> {
  await ip(['netns', 'add', ns]);
  await ip(['netns', 'exec', ns, 'sysctl', '-q', '-w', ...IPV6_OFF, ...(forwarding ? ['net.ipv4.ip_forward=1'] : [])]);
  await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
}

/** `mtu N` for `ip link add` when the branch sets its LAN's MTU; nothing for the kernel's default. */
function mtuArgs(branch: BranchPlan): string[] {
  return branch.mtu === null ? [] : ['mtu', String(branch.mtu)];
}

function tbfArgs(ns: string, dev: string, branch: BranchPlan): string[] {
  // tc takes whole kbit reliably, so a fractional Mbit rate (0.5) is written in kbit.
  const kbit = Math.max(1, Math.round(branch.rateMbit * 1000));
  return ['-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${kbit}kbit`, 'burst', String(branch.burstBytes), 'latency', WAN_QUEUE_LATENCY];
}

export function lossRuleset(plan: LabPlan, branch: BranchPlan, device: DevicePlan): string {
  // inet ingress sees IPv4 and IPv6 but not ARP, so even 'all' leaves neighbour resolution alone.
  const match = branch.lossProto === 'udp' ? 'meta l4proto udp' : 'meta nfproto ipv4';
  return [
    `table inet ${plan.lossTable} {`,
    '  chain lan-ingress {',
    `    type filter hook ingress device "${device.iface}" priority 0; policy accept;`,
    // numgen draws 0..99, and nftables refuses `< 100`: total loss drops without a draw.
    branch.lossPercent >= 100 ? `    ${match} counter drop` : `    ${match} numgen random mod 100 < ${branch.lossPercent} counter drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}

async function buildCore(plan: LabPlan): Promise<void> {
  const { ns, bridge, address, prefixLength } = plan.core;
  await addNamespace(ns, false);
  // Every WAN link's core end is a port of this bridge, so the core is one host with one address.
  await ip(['-n', ns, 'link', 'add', bridge, 'type', 'bridge']);
  await ip(['-n', ns, 'addr', 'add', `${address}/${prefixLength}`, 'dev', bridge]);
  await ip(['-n', ns, 'link', 'set', bridge, 'up']);
}

async function buildBranch(plan: LabPlan, branch: BranchPlan): Promise<void> {
  const core = plan.core;
  const router = branch.routerNs;
  await addNamespace(router, true);
  // One frame per packet on the WAN link: a veth takes TCP's segmentation-offload bundles (tens of
  // KiB under one header) whole, so its counters would show one header per bundle instead of one
  // per frame, and understate what a real WAN carries by the ~4.6 % of TCP/IP headers. With one
  // segment at most, the stack splits a bundle before the veth, as a real link's driver would. Set
  // at creation: kernels before 5.19 ignore a later change of it.
  const oneSegment = ['gso_max_segs', '1'];
  await ip(['link', 'add', branch.wanCoreIface, 'netns', core.ns, ...oneSegment, 'type', 'veth', 'peer', 'name', branch.wanRouterIface, 'netns', router, ...oneSegment]);
  await ip(['-n', core.ns, 'link', 'set', branch.wanCoreIface, 'master', core.bridge, 'up']);
  await ip(['-n', router, 'addr', 'add', `${branch.routerWanAddress}/${core.prefixLength}`, 'dev', branch.wanRouterIface]);
  await ip(['-n', router, 'link', 'set', branch.wanRouterIface, 'up']);
  // Shape both ends: the core end's egress is the branch's download, the router end's its upload.
  await tc(tbfArgs(core.ns, branch.wanCoreIface, branch));
  await tc(tbfArgs(router, branch.wanRouterIface, branch));
  // No IGMP querier runs on the LAN, so with snooping a group would stop being forwarded once
  // memberships time out; without it the bridge floods multicast like a plain branch switch.
  await ip(['-n', router, 'link', 'add', branch.bridge, ...mtuArgs(branch), 'type', 'bridge', 'mcast_snooping', '0']);
  await ip(['-n', router, 'addr', 'add', `${branch.routerLanAddress}/${branch.prefixLength}`, 'dev', branch.bridge]);
  await ip(['-n', router, 'link', 'set', branch.bridge, 'up']);
  await ip(['-n', core.ns, 'route', 'add', branch.subnet, 'via', branch.routerWanAddress]);
  const queue = [...branch.devices];
  const worker = async (): Promise<void> => {
    for (let device = queue.shift(); device; device = queue.shift()) await buildDevice(plan, branch, device);
  };
  await Promise.all(Array.from({ length: Math.min(DEVICE_SETUP_CONCURRENCY, queue.length) }, worker));
}

async function buildDevice(plan: LabPlan, branch: BranchPlan, device: DevicePlan): Promise<void> {
  const ns = device.ns;
  await addNamespace(ns, false);
  // Both ends at the LAN's MTU: the device's interface is what its sockets see, the bridge port what the bridge forwards.
  await ip(['link', 'add', device.bridgePort, 'netns', branch.routerNs, ...mtuArgs(branch), 'type', 'veth', 'peer', 'name', device.iface, 'netns', ns, ...mtuArgs(branch)]);
  await ip(['-n', branch.routerNs, 'link', 'set', device.bridgePort, 'master', branch.bridge, 'up']);
  await ip(['-n', ns, 'link', 'set', device.iface, 'multicast', 'on', 'up']);
  await ip(['-n', ns, 'addr', 'add', `${device.address}/${branch.prefixLength}`, 'dev', device.iface]);
  await ip(['-n', ns, 'route', 'add', 'default', 'via', branch.routerLanAddress]);
  await ip(['-n', ns, 'route', 'add', MULTICAST_RANGE, 'dev', device.iface]);
  if (branch.lossPercent > 0) await runCommand('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: lossRuleset(plan, branch, device) });
}

async function routeBetweenBranches(plan: LabPlan): Promise<void> {
  // Branch to branch goes router to router across the core network (both WAN links, like a real
  // hub-and-spoke WAN); the core itself only answers, it does not forward.
  for (const from of plan.branches) {
    for (const to of plan.branches) {
      if (from !== to) await ip(['-n', from.routerNs, 'route', 'add', to.subnet, 'via', to.routerWanAddress]);
    }
  }
}

/**
 * Refuses subnets that overlap an address of this machine. The lab's namespaces are not connected
 * to the machine's own network, so nothing would leak, but an overlap makes any later bridge to
 * the host (a UI, a tap) ambiguous and a reader of `ip addr` confused.
 */
async function checkAddressesFree(plan: LabPlan): Promise<void> {
  const { stdout } = await ip(['-j', 'addr', 'show']);
  const links = parseJsonOutput<Array<{ ifname: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }>>(stdout, []);
  const labSubnets = [{ what: 'core', cidr: plan.core.subnet }, ...plan.branches.map((b) => ({ what: `branch ${b.name}`, cidr: b.subnet }))];
  for (const link of links) {
    if (link.ifname.startsWith(plan.prefix)) continue;
    for (const info of link.addr_info ?? []) {
      const address = info.family === 'inet' ? parseIpv4(info.local) : undefined;
      if (address === undefined) continue;
      const size = subnetSize(info.prefixlen);
      const used = { network: address - (address % size), prefixLength: info.prefixlen };
      for (const lab of labSubnets) {
        if (subnetsOverlap(used, parseSubnet(lab.cidr, lab.what))) {
          throw new LabError('LAB.ADDRESS_IN_USE', `the lab's ${lab.what} subnet ${lab.cidr} overlaps ${info.local}/${info.prefixlen} on ${link.ifname}; pick another range in the spec`);
        }
      }
    }
  }
}

/** A route as `ip -j route show` lists it. */
export interface RouteEntry {
  dst: string;
  dev?: string;
}

/**
 * The first route of the machine's that covers part of a branch subnet, as a message; undefined
 * when there is none. The lab's more specific route would divert the machine's own traffic for
 * that range into the lab. The default route is no conflict (every more specific route beats it:
 * that is the point), nor is a route of this lab's own.
 */
export function routeConflict(routes: readonly RouteEntry[], plan: LabPlan): string | undefined {
  for (const route of routes) {
    if (route.dst === 'default' || (route.dev ?? '').startsWith(plan.prefix)) continue;
    const [address = '', length = '32'] = route.dst.split('/');
    const value = parseIpv4(address);
    const prefixLength = Number(length);
    if (value === undefined || !(prefixLength >= 0 && prefixLength <= 32)) continue;
    const size = subnetSize(prefixLength);
    const used = { network: value - (value % size), prefixLength };
    for (const branch of plan.branches) {
      if (subnetsOverlap(used, parseSubnet(branch.subnet, branch.name))) {
        return `this machine already routes ${route.dst}${route.dev ? ` on ${route.dev}` : ''}, which overlaps branch ${branch.name} (${branch.subnet}); pick another range in the spec`;
      }
    }
  }
  return undefined;
}

async function checkRoutesFree(plan: LabPlan): Promise<void> {
  const routes = await readJson<RouteEntry[]>('ip', ['-j', '-4', 'route', 'show', 'table', 'all'], []);
  const conflict = routeConflict(routes, plan);
  if (conflict) throw new LabError('LAB.ADDRESS_IN_USE', conflict);
}

/** Whether the root namespace has an interface of this name. */
async function linkExists(name: string): Promise<boolean> {
  const links = await readJson<Array<{ ifname: string }>>('ip', ['-j', 'link', 'show'], []);
  return links.some((link) => link.ifname === name);
}

function hostOf(plan: LabPlan): LabHost {
  return {
    iface: plan.host.iface,
    address: plan.host.address,
    routes: plan.branches.map((b) => ({ subnet: b.subnet, via: b.routerWanAddress })),
  };
}

async function buildHostLink(plan: LabPlan): Promise<LabHost> {
  const { iface, bridgePort, address } = plan.host;
  await checkAddressesFree(plan);
  await checkRoutesFree(plan);
  await ip(['link', 'add', iface, 'type', 'veth', 'peer', 'name', bridgePort, 'netns', plan.core.ns]);
  try {
    // Before the link comes up, so that no IPv6 link-local address, DAD or router solicitation
    // from the host is ever flooded by the core bridge onto the WAN links (and their counters).
    const ipv6 = `/proc/sys/net/ipv6/conf/${iface}/disable_ipv6`;
    if (existsSync(ipv6)) await runCommand('sysctl', ['-q', '-w', `net.ipv6.conf.${iface}.disable_ipv6=1`]);
    await ip(['-n', plan.core.ns, 'link', 'set', bridgePort, 'master', plan.core.bridge, 'up']);
    await ip(['addr', 'add', `${address}/${plan.core.prefixLength}`, 'dev', iface]);
    await ip(['link', 'set', iface, 'up']);
    // Routes name the device, so that deleting the veth (by any cleanup) removes them with it.
    for (const branch of plan.branches) await ip(['route', 'add', branch.subnet, 'via', branch.routerWanAddress, 'dev', iface]);
  } catch (error) {
    await ip(['link', 'del', 'dev', iface]).catch(() => undefined);
    throw error;
  }
  return hostOf(plan);
}

async function readJson<T>(cmd: string, args: readonly string[], empty: T): Promise<T> {
  return parseJsonOutput<T>((await runCommand(cmd, args)).stdout, empty);
}

function labHandle(plan: LabPlan, cancelExitHook: () => void, hostAttached = false): Lab {
  const namespaces = namespaceNames(plan);
  const known = new Set(namespaces);
  const children = new Set<ChildProcess>();
  let destroyed: Promise<void> | undefined;
  let host: LabHost | undefined = hostAttached ? hostOf(plan) : undefined;
  let attaching: Promise<LabHost> | undefined;

  const checkNs = (ns: string): void => {
    if (!known.has(ns)) throw new LabError('LAB.UNKNOWN_TARGET', `"${ns}" is not a namespace of lab "${plan.name}"`);
  };
  const branchPlan = (name: string): BranchPlan => {
    const found = plan.branches.find((b) => b.name === name);
    if (!found) throw new LabError('LAB.UNKNOWN_TARGET', `lab "${plan.name}" has no branch "${name}"`);
    return found;
  };
  const rootDrops = async (ns: string, dev: string): Promise<number> => {
    const qdiscs = await readJson<Array<{ root?: boolean; drops?: number }>>('tc', ['-n', ns, '-s', '-j', 'qdisc', 'show', 'dev', dev], []);
    return qdiscs.find((q) => q.root)?.drops ?? 0;
  };

  return {
    name: plan.name,
    plan,
    core: { ns: plan.core.ns, address: plan.core.address },
    branches: plan.branches.map((b) => ({
      name: b.name,
      subnet: b.subnet,
      routerNs: b.routerNs,
      routerAddress: b.routerLanAddress,
      devices: b.devices.map((d) => ({ index: d.index, ns: d.ns, address: d.address, iface: d.iface })),
    })),
    namespaces,
    get host() {
      return host;
    },
    attachHost() {
      if (host) return Promise.resolve(host);
      if (destroyed) return Promise.reject(new LabError('LAB.NOT_FOUND', `lab "${plan.name}" is destroyed`));
      attaching ??= buildHostLink(plan).then(
        (attached) => (host = attached),
        (error: unknown) => {
          attaching = undefined;
          throw error;
        },
      );
      return attaching;
    },
    async exec(ns, cmd, args, options) {
      checkNs(ns);
      return runCommand('ip', ['netns', 'exec', ns, cmd, ...args], options);
    },
    spawn(ns, cmd, args, options = {}) {
      checkNs(ns);
      // `ip netns exec` execs the program in place, so the child's pid is the program's own.
      const child = spawnProcess('ip', ['netns', 'exec', ns, cmd, ...args], options);
      children.add(child);
      child.once('exit', () => children.delete(child));
      child.once('error', () => children.delete(child));
      return child;
    },
    async wanCounters(name) {
      const branch = branchPlan(name);
      type LinkStats = { stats64?: { rx: { bytes: number; packets: number }; tx: { bytes: number; packets: number } } };
      const [link] = await readJson<LinkStats[]>('ip', ['-n', plan.core.ns, '-s', '-j', 'link', 'show', 'dev', branch.wanCoreIface], []);
      const stats = link?.stats64;
      if (!stats) throw new LabError('LAB.COMMAND_FAILED', `no counters for ${branch.wanCoreIface} in ${plan.core.ns}`);
      const [downDrops, upDrops] = await Promise.all([rootDrops(plan.core.ns, branch.wanCoreIface), rootDrops(branch.routerNs, branch.wanRouterIface)]);
      return {
        branch: branch.name,
        toBranch: { bytes: stats.tx.bytes, packets: stats.tx.packets, shaperDrops: downDrops },
        fromBranch: { bytes: stats.rx.bytes, packets: stats.rx.packets, shaperDrops: upDrops },
      };
    },
    async shapeDeviceLan(name, index, rateMbit) {
      const branch = branchPlan(name);
      const device = branch.devices.find((d) => d.index === index);
      if (!device) throw new LabError('LAB.UNKNOWN_TARGET', `branch "${name}" of lab "${plan.name}" has no device ${index}`);
      const drops = await rootDrops(branch.routerNs, device.bridgePort);
      if (rateMbit === null) {
        // Back to the veth's default (no queue); refused when no shaper is there, which is the same end.
        await tc(['-n', branch.routerNs, 'qdisc', 'del', 'dev', device.bridgePort, 'root']).catch(() => undefined);
        return drops;
      }
      if (typeof rateMbit !== 'number' || !(rateMbit > 0) || !(rateMbit <= MAX_RATE_MBIT)) {
        throw new LabError('LAB.INVALID_SPEC', `a device's LAN rate must be a number above 0 and at most ${MAX_RATE_MBIT} Mbit/s`);
      }
      const kbit = Math.max(1, Math.round(rateMbit * 1000));
      await tc(['-n', branch.routerNs, 'qdisc', 'replace', 'dev', device.bridgePort, 'root', 'tbf', 'rate', `${kbit}kbit`, 'burst', String(defaultBurstBytes(rateMbit)), 'latency', LAN_SHAPER_LATENCY]);
      return drops;
    },
    destroy() {
      destroyed ??= (async () => {
        for (const child of children) child.kill('SIGKILL');
        await destroyLab(plan.name);
        host = undefined;
        cancelExitHook();
      })().catch((error: unknown) => {
        // Let a later call try again; the exit hook stays armed meanwhile.
        destroyed = undefined;
        throw error;
      });
      return destroyed;
    },
  };
}

/**
 * Builds the lab the spec describes (removing leftovers of an earlier run of the same name
 * first). On any failure it removes what it built and throws; by default the lab is also
 * destroyed when the process exits.
 */
export async function createLab(spec: LabSpec, options: CreateLabOptions = {}): Promise<Lab> {
  const plan = planLab(spec);
  await checkAddressesFree(plan);
  await destroyLab(plan.name);
  // Registered before the first command, so that a crash halfway through the build cleans up too.
  const cancelExitHook = options.destroyOnExit === false ? () => undefined : destroyOnExit(plan.name);
  try {
    await buildCore(plan);
    for (const branch of plan.branches) await buildBranch(plan, branch);
    await routeBetweenBranches(plan);
  } catch (error) {
    await destroyLab(plan.name).catch(() => undefined);
    cancelExitHook();
    throw error;
  }
  return labHandle(plan, cancelExitHook);
}

/**
 * A handle on a lab that is already up (built by another process, e.g. the CLI's `up`), for
 * `exec`, `spawn`, counters and `destroy`. Throws `LAB.NOT_FOUND` when its namespaces are missing.
 */
export async function openLab(spec: LabSpec): Promise<Lab> {
  const plan = planLab(spec);
  const present = new Set((await listLabResources(plan.name)).namespaces);
  const missing = namespaceNames(plan).filter((ns) => !present.has(ns));
  if (missing.length > 0) {
    throw new LabError('LAB.NOT_FOUND', `lab "${plan.name}" is not up (missing ${missing.length} namespace(s), first ${missing[0]})`);
  }
  return labHandle(plan, () => undefined, await linkExists(plan.host.iface));
}
