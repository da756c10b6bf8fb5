/**
 * A rate cap over bytes moved in pieces: every piece reserves its wire time at the cap, one after
 * the other, whatever the number of transfers at once. The peer block server's upload cap (all
 * uploads together) and the WAN rate cap of a download (the origin's body read no faster, so TCP
 * slows the sender). Pure: the caller passes the time and waits the delay it gets, so the pacing is
 * tested without clocks.
 */
export class RatePacer {
  private nextFreeMs = 0;

  /** `rateKbps` 0 means no cap. */
  constructor(readonly rateKbps: number) {
    if (!Number.isFinite(rateKbps) || rateKbps < 0) throw new RangeError(`rateKbps must be 0 or more, got ${rateKbps}`);
  }

  /** How long to wait (ms) before sending `bytes` at `nowMs`; the reservation is made at once. */
  reserve(bytes: number, nowMs: number): number {
    if (this.rateKbps === 0) return 0;
    const start = Math.max(nowMs, this.nextFreeMs);
    this.nextFreeMs = start + (bytes * 8) / this.rateKbps;
    return start - nowMs;
  }

  /**
   * How long to wait (ms) after taking `bytes` at `nowMs` before taking more: until the end of their
   * slot, so that what was taken never runs ahead of the cap (a reader's side: bytes that already
   * arrived count at once).
   */
  reserveTaken(bytes: number, nowMs: number): number {
    if (this.rateKbps === 0) return 0;
    this.reserve(bytes, nowMs);
    return this.nextFreeMs - nowMs;
  }
}
