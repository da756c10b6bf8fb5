/** A device as the inventory lists it: what the stale-seat sweep reads. */
export interface SeenDevice {
  id: string;
  lastSeenAt: string;
}

const DAY_MS = 86_400_000;

/** The instant before which a device's last scan makes it stale for licensing. */
export function staleCutoff(now: Date, staleAfterDays: number): Date {
  return new Date(now.getTime() - staleAfterDays * DAY_MS);
}

/**
 * Devices last seen before the cutoff, in the order given. A lastSeenAt that does not parse is
 * left out: a seat is only ever released on evidence.
 */
export function seenBefore(devices: readonly SeenDevice[], cutoff: Date): string[] {
  return devices.filter((device) => {
    const seen = Date.parse(device.lastSeenAt);
    return Number.isFinite(seen) && seen < cutoff.getTime();
  }).map((device) => device.id);
}
