import { MAX_TOPOLOGY_OFFICES, Office, TopologyDocument, TopologyDraft } from '@fleetcast/contracts';
import { compareRanges, networkOf, parseHostAddress, ParsedCidr } from './cidr';
import { jsonPointer, validateTopology } from './topology-validation';

/** What the generation reads of an inventory device (the inventory's `Device` has it). */
export interface InventoryDeviceView {
  id: string;
  interfaces: ReadonlyArray<{ gateway: string | null; addresses: ReadonlyArray<{ address: string; prefixLength: number }> }>;
}

export interface DraftOptions {
  /** The origin's addresses: the office that holds the first one becomes the central office. */
  originAddresses: string[];
  /** Written on every branch's WAN link, for the administrator to correct. */
  branchBandwidthKbps: number;
}

/** Union-find over subnet CIDRs: subnets that end up in one set make one office. */
class Groups {
  private readonly parent = new Map<string, string>();

  add(key: string): void {
    if (!this.parent.has(key)) this.parent.set(key, key);
  }

  find(key: string): string {
    let root = key;
    while (this.parent.get(root) !== root) root = this.parent.get(root)!;
    // Path compression: later finds are one step.
    let at = key;
    while (at !== root) {
      const next = this.parent.get(at)!;
      this.parent.set(at, root);
      at = next;
    }
    return root;
  }

  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(rb < ra ? ra : rb, rb < ra ? rb : ra);
  }
}

/** An office ID from its first subnet: "office-10-1-2-0-24", "office-2001-db8-1--48" (subject-token safe). */
function officeIdOf(cidr: string): string {
  return `office-${cidr.replace(/[.:/]/g, '-')}`.slice(0, 64);
}

/**
 * Generates a topology from the inventory's devices, for an administrator to review: one office per
 * subnet, except that subnets seen on one interface (its IPv4 and IPv6 networks) or behind one
 * gateway are one office; a subnet nested in a wider one another device reported goes with it. The
 * office holding the origin becomes the central office and every other office its branch, with the
 * placeholder bandwidth; the notes say what to check. The inventory carries no site label, so
 * sites are recognised by their gateway only. Pure.
 */
export function generateDraft(devices: readonly InventoryDeviceView[], options: DraftOptions): TopologyDraft {
  const groups = new Groups();
  const networks = new Map<string, ParsedCidr>();
  const gatewaySubnets = new Map<string, string>();
  const gatewaysOfGroup = new Map<string, Set<string>>();
  /** Each device counted once, in the subnet of its first usable address. */
  const devicesBySubnet = new Map<string, number>();
  let devicesWithoutAddress = 0;

  for (const device of devices) {
    let firstSubnet: string | null = null;
    for (const nic of device.interfaces) {
      const nicSubnets = nic.addresses.map((a) => networkOf(a.address, a.prefixLength)).filter((n): n is ParsedCidr => n !== null);
      for (const network of nicSubnets) {
        networks.set(network.cidr, network);
        groups.add(network.cidr);
        groups.union(nicSubnets[0]!.cidr, network.cidr);
        firstSubnet ??= network.cidr;
      }
      // A link-local gateway (fe80::1, the usual IPv6 one) repeats on every link: it names no site.
      const gateway = nic.gateway === null ? null : parseHostAddress(nic.gateway);
      if (gateway && nicSubnets.length > 0) {
        const seen = gatewaySubnets.get(gateway.address);
        if (seen === undefined) gatewaySubnets.set(gateway.address, nicSubnets[0]!.cidr);
        else groups.union(seen, nicSubnets[0]!.cidr);
      }
    }
    if (firstSubnet === null) devicesWithoutAddress++;
    else devicesBySubnet.set(firstSubnet, (devicesBySubnet.get(firstSubnet) ?? 0) + 1);
  }

  // A device with a shorter prefix than its neighbours reports a network that holds theirs: the
  // wider one names the LAN, the narrower ones are folded into it.
  const notes: TopologyDraft['notes'] = [];
  const folded = new Set<string>();
  const open: ParsedCidr[] = [];
  for (const network of [...networks.values()].sort(compareRanges)) {
    while (open.length > 0 && (open[open.length - 1]!.family !== network.family || open[open.length - 1]!.last < network.first)) open.pop();
    if (open.length > 0) {
      groups.union(open[0]!.cidr, network.cidr);
      folded.add(network.cidr);
      notes.push({ path: '/offices', message: `${network.cidr} lies inside ${open[0]!.cidr}, which another device reported: folded into it; check the devices' prefix lengths` });
      continue;
    }
    open.push(network);
  }
  for (const [gateway, subnet] of gatewaySubnets) {
    const root = groups.find(subnet);
    gatewaysOfGroup.set(root, (gatewaysOfGroup.get(root) ?? new Set()).add(gateway));
  }

  const members = new Map<string, ParsedCidr[]>();
  for (const network of networks.values()) {
    if (folded.has(network.cidr)) continue;
    const root = groups.find(network.cidr);
    members.set(root, [...(members.get(root) ?? []), network]);
  }
  const devicesByGroup = new Map<string, number>();
  for (const [cidr, n] of devicesBySubnet) devicesByGroup.set(groups.find(cidr), (devicesByGroup.get(groups.find(cidr)) ?? 0) + n);
  let found = [...members.entries()].map(([root, subnets]) => {
    const sorted = subnets.sort(compareRanges);
    return { root, subnets: sorted, devices: devicesByGroup.get(root) ?? 0, gateways: [...(gatewaysOfGroup.get(root) ?? [])].sort() };
  });

  // The central office holds the origin; without a subnet that does, one is made for the administrator to fill.
  const origin = parseHostAddress(options.originAddresses[0]!);
  const central = origin === null ? undefined : found.find((g) => g.subnets.some((s) => s.family === origin.family && s.first <= origin.value && origin.value <= s.last));
  if (found.length >= MAX_TOPOLOGY_OFFICES) {
    const kept = [...found].sort((a, b) => b.devices - a.devices).slice(0, MAX_TOPOLOGY_OFFICES - 1);
    if (central && !kept.includes(central)) kept[kept.length - 1] = central;
    notes.push({ path: '/offices', message: `${found.length - kept.length} groups with the fewest devices were left out: a topology holds at most ${MAX_TOPOLOGY_OFFICES} offices` });
    found = kept;
  }
  // The central office first, then the branches as an operator reads their networks.
  found.sort((a, b) => (a === central ? -1 : b === central ? 1 : compareRanges(a.subnets[0]!, b.subnets[0]!)));

  const offices: Office[] = [];
  const describe = (g: (typeof found)[number]) =>
    g.gateways.length > 0
      ? `${g.subnets.length === 1 ? 'subnet' : 'subnets'} ${g.subnets.map((s) => s.cidr).join(', ')} behind gateway ${g.gateways.join(', ')} (${g.devices} devices)`
      : `subnet ${g.subnets.map((s) => s.cidr).join(', ')} (${g.devices} devices)`;
  let centralId: string;
  if (central) {
    centralId = officeIdOf(central.subnets[0]!.cidr);
  } else {
    centralId = 'central';
    offices.push({ id: centralId, name: 'Central office', type: 'default', parent: null, subnets: [], wan: null });
    notes.push({ path: jsonPointer(['offices', 0, 'subnets']), message: `no device of the inventory is in a subnet that holds the origin ${options.originAddresses[0]}: give the central office its subnets` });
  }
  for (const group of found) {
    const id = officeIdOf(group.subnets[0]!.cidr);
    const isCentral = group === central;
    offices.push({
      id,
      name: `${isCentral ? 'Central office' : 'Office'} ${group.subnets[0]!.cidr}`,
      type: 'default',
      parent: isCentral ? null : centralId,
      subnets: group.subnets.map((s) => s.cidr),
      wan: isCentral ? null : { bandwidthKbps: options.branchBandwidthKbps },
    });
    notes.push({ path: jsonPointer(['offices', offices.length - 1]), message: `${isCentral ? 'central office (holds the origin): ' : ''}${describe(group)}` });
  }
  if (offices.length > 1) {
    notes.push({
      path: '/offices',
      message: `every branch hangs off the central office with the placeholder bandwidth ${options.branchBandwidthKbps} kbit/s: set each link's real bandwidth, regional offices as parents, and the type (vpn, wifi) where it applies`,
    });
  }

  const document: TopologyDocument = { schemaVersion: 1, origin: { addresses: options.originAddresses }, defaultOffice: null, offices };
  const validation = validateTopology(document);
  return {
    document: validation.ok ? validation.document : document,
    notes,
    problems: validation.problems,
    devicesSeen: devices.length,
    devicesWithoutAddress,
  };
}
