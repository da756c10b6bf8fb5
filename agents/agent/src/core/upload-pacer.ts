/**
 * The upload rate cap of a device's peer block server: every block reserves its wire time at the
 * cap, one after the other, whatever the number of uploads at once. Pure: the caller passes the
 * time and waits the delay it gets, so the pacing is tested without clocks.
 */
export class UploadPacer {
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
}
