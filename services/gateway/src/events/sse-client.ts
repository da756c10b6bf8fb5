import type { Response } from 'express';
import { EventQueue, formatSse, QueuedEvent } from './event-queue';

/**
 * Keys a slow client may have waiting at most: one per device of a 10,000-device task and then some.
 * Past it the oldest changes are dropped and the client is sent `resync` (read the task again).
 */
export const MAX_QUEUED_KEYS = 20_000;

/**
 * One client's event stream over an HTTP response. Writes go straight to the socket while it keeps
 * up; once a write is refused (the socket's buffer is full), events wait in a coalescing queue
 * until `drain`, so a slow client costs bounded memory and never holds up NATS or other clients.
 */
export class SseClient {
  private readonly queue = new EventQueue(MAX_QUEUED_KEYS);
  private blocked = false;
  private closed = false;
  private nextId = 1;

  constructor(private readonly res: Response) {
    res.on('drain', () => this.flush());
    res.once('close', () => (this.closed = true));
  }

  send(item: QueuedEvent): void {
    if (this.closed) return;
    if (this.blocked) return this.queue.push(item);
    this.write(item.event, item.data);
  }

  /** Whether events are waiting for the client to read what it was sent. */
  get waiting(): boolean {
    return this.blocked;
  }

  private write(event: string, data: unknown): void {
    if (!this.res.write(formatSse(event, data, this.nextId++))) this.blocked = true;
  }

  private flush(): void {
    if (this.closed) return;
    this.blocked = false;
    const { items, lost } = this.queue.take();
    // Updates were dropped: the client's picture is incomplete, and it is told so before the rest.
    if (lost > 0) this.write('resync', { lost, message: `${lost} updates were dropped while this client was slow: read the task again` });
    for (const item of items) this.write(item.event, item.data);
  }
}
