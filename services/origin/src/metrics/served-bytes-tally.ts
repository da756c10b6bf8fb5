/** Bytes served since the last reset, as the JSON stats endpoint reports them. */
export interface ServedBytesSnapshot {
  total: number;
  bySubnet: Record<string, number>;
  byDevice: Record<string, number>;
}

/** Where bytes go once a map holds its limit of keys: counted, never dropped, never a new key. */
export const OTHER_KEY = 'other';
/** A fleet of 100,000 devices fits; a client inventing device names cannot grow the map past it. */
export const MAX_TALLY_DEVICES = 100_000;
/** Subnets are declared by the client: 10,000 covers a large fleet's branches, and bounds the rest. */
export const MAX_TALLY_SUBNETS = 10_000;

/** Adds `bytes` under `key`, or under OTHER_KEY once the map holds `max` other keys. */
export function addBounded(map: Map<string, number>, key: string, bytes: number, max: number): void {
  const k = map.has(key) || map.size < max ? key : OTHER_KEY;
  map.set(k, (map.get(k) ?? 0) + bytes);
}

/**
 * Running totals of bytes served per subnet and per device, each map bounded (a key past the limit
 * counts as OTHER_KEY). Kept apart from the Prometheus counters because a lab resets these between
 * runs, while counters must only grow.
 */
export class ServedBytesTally {
  private total = 0;
  private readonly bySubnet = new Map<string, number>();
  private readonly byDevice = new Map<string, number>();

  constructor(private readonly limits = { devices: MAX_TALLY_DEVICES, subnets: MAX_TALLY_SUBNETS }) {}

  add(subnet: string, device: string, bytes: number): void {
    this.total += bytes;
    addBounded(this.bySubnet, subnet, bytes, this.limits.subnets);
    addBounded(this.byDevice, device, bytes, this.limits.devices);
  }

  snapshot(): ServedBytesSnapshot {
    return { total: this.total, bySubnet: Object.fromEntries(this.bySubnet), byDevice: Object.fromEntries(this.byDevice) };
  }

  reset(): void {
    this.total = 0;
    this.bySubnet.clear();
    this.byDevice.clear();
  }
}
