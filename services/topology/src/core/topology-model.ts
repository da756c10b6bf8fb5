import { Office, OfficeRef, officePolicy, TopologyDocument } from '@fleetcast/contracts';
import { IpFamily, parseCidr, parseHostAddress } from './cidr';

/** What an office's type allows its devices: the contracts' one mapping (the tasks service's swarm reads it too). */
export { officePolicy };

/**
 * A device's usable addresses, normalised and without repeats: IPv4 before IPv6 (LAN sharing runs
 * on the IPv4 segment where both exist), each family in the order its interfaces list them;
 * loopback, link-local and the like dropped.
 */
export function usableAddresses(addresses: readonly string[]): Array<{ family: IpFamily; value: bigint; address: string }> {
  const usable = addresses.map(parseHostAddress).filter((a): a is NonNullable<typeof a> => a !== null);
  const ordered = [...usable.filter((a) => a.family === 'ipv4'), ...usable.filter((a) => a.family === 'ipv6')];
  return [...new Map(ordered.map((a) => [a.address, a])).values()];
}

interface IndexedRange {
  first: bigint;
  last: bigint;
  officeId: string;
}

/** Where a device was put: the office whose subnet holds one of its addresses, else the default office. */
export interface Placement {
  officeId: string;
  placed: boolean;
  /** The address that placed it; null when unplaced. */
  address: string | null;
  /** Its usable addresses (IPv4 first), as normalised. */
  addresses: string[];
}

export interface WanStep {
  from: string;
  to: string;
  bandwidthKbps: number;
}

/**
 * A validated topology, indexed for the questions the service answers: an address's office (binary
 * search over the sorted, disjoint subnets of each family), an office's parents and its WAN path
 * to the origin. Built once per version and cached; pure.
 */
export class TopologyModel {
  readonly central: Office;
  readonly defaultOfficeId: string;
  private readonly offices = new Map<string, Office>();
  private readonly ranges: Record<IpFamily, IndexedRange[]> = { ipv4: [], ipv6: [] };

  /** `document` must have passed `validateTopology`: one central office, no cycles, no overlaps. */
  constructor(readonly document: TopologyDocument) {
    for (const office of document.offices) {
      this.offices.set(office.id, office);
      for (const text of office.subnets) {
        const parsed = parseCidr(text);
        if (!parsed.ok) throw new Error(`topology model built from an unvalidated document: ${parsed.message}`);
        this.ranges[parsed.value.family].push({ first: parsed.value.first, last: parsed.value.last, officeId: office.id });
      }
    }
    for (const list of Object.values(this.ranges)) list.sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
    const central = document.offices.find((o) => o.parent === null);
    if (!central) throw new Error('topology model built from a document without a central office');
    this.central = central;
    this.defaultOfficeId = document.defaultOffice ?? central.id;
  }

  office(id: string): Office | undefined {
    return this.offices.get(id);
  }

  ref(id: string): OfficeRef {
    const office = this.offices.get(id);
    if (!office) throw new Error(`no office "${id}" in this topology`);
    return { id: office.id, name: office.name, type: office.type };
  }

  /** The office whose subnet holds the address, or null. */
  officeOfAddress(family: IpFamily, value: bigint): string | null {
    const list = this.ranges[family];
    let low = 0;
    let high = list.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const range = list[mid]!;
      if (value < range.first) high = mid - 1;
      else if (value > range.last) low = mid + 1;
      else return range.officeId;
    }
    return null;
  }

  /**
   * Places a device by its addresses, in the order of `usableAddresses`: the first address in an
   * office's subnet wins. None: the default office, unplaced.
   */
  place(addresses: readonly string[]): Placement {
    const unique = usableAddresses(addresses);
    for (const address of unique) {
      const officeId = this.officeOfAddress(address.family, address.value);
      if (officeId !== null) return { officeId, placed: true, address: address.address, addresses: unique.map((a) => a.address) };
    }
    return { officeId: this.defaultOfficeId, placed: false, address: null, addresses: unique.map((a) => a.address) };
  }

  /** The office's ancestors: its parent first, the central office last. */
  parentsOf(officeId: string): Office[] {
    const parents: Office[] = [];
    let office = this.offices.get(officeId);
    // The document has no cycles; the bound only guards against a model built from one that does.
    while (office?.parent != null && parents.length < this.offices.size) {
      office = this.offices.get(office.parent);
      if (office) parents.push(office);
    }
    return parents;
  }

  /** The WAN links from an office up to the central office (where the origin is), in that order. */
  wanPath(officeId: string): WanStep[] {
    const steps: WanStep[] = [];
    let office = this.offices.get(officeId);
    while (office?.parent != null && steps.length < this.offices.size) {
      steps.push({ from: office.id, to: office.parent, bandwidthKbps: office.wan!.bandwidthKbps });
      office = this.offices.get(office.parent);
    }
    return steps;
  }

  /** The slowest link between an office and the origin; null in the central office. */
  bottleneckKbps(officeId: string): number | null {
    const steps = this.wanPath(officeId);
    return steps.length === 0 ? null : Math.min(...steps.map((s) => s.bandwidthKbps));
  }
}
