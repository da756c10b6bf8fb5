/**
 * Transfers sharing links, as a fluid model: each flow group is `connections` identical TCP
 * downloads along a path of links; at every moment the links' capacity is divided max-min fairly
 * between the connections crossing them (what TCP converges to on a shaped link), a connection
 * never above its own cap. The simulation runs from event to event (a group starts, a group ends)
 * and returns when each group's last byte arrived. Pure: time is a number of seconds.
 */

export interface Link {
  id: string;
  /** Capacity in bytes per second. */
  bytesPerSecond: number;
}

export interface FlowGroup {
  id: string;
  /** Identical connections in the group (a subnet's devices downloading each its own copy). */
  connections: number;
  /** Bytes each connection carries. */
  bytesPerConnection: number;
  /** Link IDs crossed, any order. */
  path: readonly string[];
  /** When the group's connections begin, in seconds. */
  startSeconds: number;
  /** A connection's own ceiling in bytes per second (a rate limit); null: none. */
  capBytesPerSecond?: number | null;
}

/** Rates below this (bytes/s) count as none: guards the event loop against a link of zero capacity. */
const MIN_RATE = 1e-9;

/**
 * Max-min fair rates per connection for the active groups (progressive filling): raise every
 * unfrozen connection's rate together until a link is full or a connection reaches its cap; freeze
 * those; repeat. Returns bytes per second per connection, by group ID.
 */
export function fairRates(links: ReadonlyMap<string, Link>, groups: readonly FlowGroup[]): Map<string, number> {
  const rates = new Map<string, number>();
  const remaining = new Map<string, number>([...links.values()].map((l) => [l.id, l.bytesPerSecond]));
  let open = groups.filter((g) => g.connections > 0);
  for (const g of groups) rates.set(g.id, 0);
  while (open.length > 0) {
    // The smallest equal share any link can still give each of its open connections.
    const weight = new Map<string, number>();
    for (const g of open) for (const l of g.path) weight.set(l, (weight.get(l) ?? 0) + g.connections);
    let share = Infinity;
    for (const [l, w] of weight) share = Math.min(share, (remaining.get(l) ?? Infinity) / w);
    for (const g of open) if (g.capBytesPerSecond != null) share = Math.min(share, g.capBytesPerSecond - (rates.get(g.id) ?? 0));
    if (!Number.isFinite(share)) {
      // No link and no cap limits these groups: they are not modelled as bandwidth-bound.
      for (const g of open) rates.set(g.id, Infinity);
      break;
    }
    share = Math.max(0, share);
    for (const g of open) rates.set(g.id, (rates.get(g.id) ?? 0) + share);
    for (const [l, w] of weight) remaining.set(l, (remaining.get(l) ?? Infinity) - share * w);
    const full = new Set([...weight.keys()].filter((l) => (remaining.get(l) ?? Infinity) <= (links.get(l)?.bytesPerSecond ?? 0) * 1e-9 + 1e-9));
    const next = open.filter((g) => !g.path.some((l) => full.has(l)) && !(g.capBytesPerSecond != null && (rates.get(g.id) ?? 0) >= g.capBytesPerSecond - 1e-9));
    if (next.length === open.length) break; // nothing froze: numerical safety
    open = next;
  }
  return rates;
}

/** When each group's transfer ends (seconds), by group ID. */
export function simulateFlows(links: readonly Link[], groups: readonly FlowGroup[]): Map<string, number> {
  const linkById = new Map(links.map((l) => [l.id, l]));
  const left = new Map(groups.map((g) => [g.id, g.bytesPerConnection]));
  const done = new Map<string, number>();
  let now = 0;
  for (const g of groups) if (g.bytesPerConnection <= 0 || g.connections <= 0) done.set(g.id, g.startSeconds);
  for (;;) {
    const pending = groups.filter((g) => !done.has(g.id));
    if (pending.length === 0) return done;
    const active = pending.filter((g) => g.startSeconds <= now + 1e-12);
    const nextStart = Math.min(...pending.filter((g) => g.startSeconds > now + 1e-12).map((g) => g.startSeconds));
    if (active.length === 0) {
      now = nextStart;
      continue;
    }
    const rates = fairRates(linkById, active);
    let step = nextStart - now;
    for (const g of active) {
      const rate = rates.get(g.id) ?? 0;
      if (rate === Infinity) step = 0;
      else if (rate > MIN_RATE) step = Math.min(step, left.get(g.id)! / rate);
    }
    if (!Number.isFinite(step)) throw new Error('flows that can never end: a link on their path has no capacity');
    for (const g of active) {
      const rate = rates.get(g.id) ?? 0;
      const rest = rate === Infinity ? 0 : left.get(g.id)! - rate * step;
      // A relative tolerance: bytes left below a millionth of a byte per byte sent count as sent.
      if (rest <= g.bytesPerConnection * 1e-9) done.set(g.id, now + step);
      else left.set(g.id, rest);
    }
    now += step;
  }
}
