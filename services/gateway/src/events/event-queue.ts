/**
 * What waits to be written to one slow event-stream client, as a pure structure: events are kept by
 * key (a task's counts, one device in one task), and a newer event with the same key replaces the
 * older one (it says everything the older one did, since counts and bytes are totals). The queue
 * therefore never holds more than one event per key; past `maxKeys` the oldest are dropped and the
 * queue remembers that it lost some, so that the client is told to read the task again instead of
 * being silently wrong. Memory per client is bounded whatever the rate of changes.
 */
export interface QueuedEvent {
  /** Coalescing key: `task:<id>` or `device:<taskId>/<deviceId>`. */
  key: string;
  /** The SSE event name. */
  event: string;
  data: unknown;
}

export class EventQueue {
  private readonly items = new Map<string, QueuedEvent>();
  private lostCount = 0;

  constructor(private readonly maxKeys: number) {
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${maxKeys}`);
  }

  get size(): number {
    return this.items.size;
  }

  /** Events dropped since the last `take` (a `resync` is due when above 0). */
  get lost(): number {
    return this.lostCount;
  }

  push(item: QueuedEvent): void {
    // Re-inserted at the end: the newest state of a key goes out after what changed before it.
    this.items.delete(item.key);
    this.items.set(item.key, item);
    while (this.items.size > this.maxKeys) {
      const oldest = this.items.keys().next().value as string;
      this.items.delete(oldest);
      this.lostCount += 1;
    }
  }

  /** Everything queued, oldest first, and how many were dropped; the queue is empty afterwards. */
  take(): { items: QueuedEvent[]; lost: number } {
    const out = { items: [...this.items.values()], lost: this.lostCount };
    this.items.clear();
    this.lostCount = 0;
    return out;
  }
}

/** One server-sent event (WHATWG HTML, 9.2 "Server-sent events"): `data` is JSON on one line. */
export function formatSse(event: string, data: unknown, id?: number): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
