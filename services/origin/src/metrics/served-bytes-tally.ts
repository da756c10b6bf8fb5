/** Bytes served since the last reset, as the JSON stats endpoint reports them. */
export interface ServedBytesSnapshot {
  total: number;
  bySubnet: Record<string, number>;
  byDevice: Record<string, number>;
}

/**
 * Running totals of bytes served per subnet and per device. Kept apart from the Prometheus counters
 * because a lab resets these between runs, while counters must only grow.
 */
export class ServedBytesTally {
  private total = 0;
  private readonly bySubnet = new Map<string, number>();
  private readonly byDevice = new Map<string, number>();

  add(subnet: string, device: string, bytes: number): void {
    this.total += bytes;
    this.bySubnet.set(subnet, (this.bySubnet.get(subnet) ?? 0) + bytes);
    this.byDevice.set(device, (this.byDevice.get(device) ?? 0) + bytes);
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
