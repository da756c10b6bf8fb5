/**
 * A counting semaphore with a bounded queue, for uploads to peers: at most `max` run at once, at
 * most `maxWaiting` wait for a slot, and anyone beyond is told "busy" at once (null) instead of
 * queueing without end. No I/O and no timers: a device serving its subnet stays responsive because
 * the queue is bounded, not because anything times out here.
 */
export class UploadSlots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly max: number,
    readonly maxWaiting: number,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`max must be a positive integer, got ${max}`);
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new RangeError(`maxWaiting must be a non-negative integer, got ${maxWaiting}`);
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves with a release function once a slot is free, or with null at once when the queue is full. */
  acquire(): Promise<(() => void) | null> {
    if (this.running < this.max) {
      this.running += 1;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.maxWaiting) return Promise.resolve(null);
    return new Promise((resolve) => this.waiting.push(() => resolve(this.releaser())));
  }

  /** A release that works once: a second call (an error path and a close event both firing) is ignored. */
  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so `running` stays the same.
      if (next) next();
      else this.running -= 1;
    };
  }
}
