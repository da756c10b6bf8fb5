import { SingleBar } from 'cli-progress';
import { advance, progressFields, progressLine, resumeAt, startTransfer, TransferProgress } from './transfer-progress';

/** A non-interactive run (a log, CI) gets a line this often: enough to see it move, not a flood. */
export const PLAIN_PROGRESS_INTERVAL_MS = 2_000;

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

/**
 * Shows a transfer's progress on stderr (stdout stays for the result): a bar with rate and ETA on
 * a terminal, a plain line every couple of seconds otherwise, and always a last line at the end.
 */
export class TransferDisplay {
  private progress: TransferProgress;
  private readonly bar?: SingleBar;
  private lastPlainMs = -Infinity;
  private lastPlainDone = -1;

  constructor(
    private readonly label: string,
    total: number,
    private readonly out: ProgressStream,
    private readonly now: () => number = Date.now,
  ) {
    this.progress = startTransfer(total, now());
    if (out.isTTY) {
      this.bar = new SingleBar({
        stream: out as NodeJS.WritableStream,
        format: `${label} [{bar}] {percentage}% | {doneText} / {totalText} | {rateText} | ETA {etaText}`,
        hideCursor: true,
        barsize: 30,
        fps: 10,
      });
      this.bar.start(total, 0, this.payload());
    }
  }

  add(bytes: number): void {
    this.progress = advance(this.progress, bytes, this.now());
    if (this.bar) this.bar.update(this.progress.done, this.payload());
    else if (this.now() - this.lastPlainMs >= PLAIN_PROGRESS_INTERVAL_MS) this.plain();
  }

  /** Goes on from `done` bytes (an upload resumed where the server has it); shown at once. */
  resumeAt(done: number): void {
    this.progress = resumeAt(this.progress, done, this.now());
    if (this.bar) this.bar.update(this.progress.done, this.payload());
    else this.plain();
  }

  /** The last state, whatever the interval: a log always shows where a transfer ended. */
  finish(): void {
    if (this.bar) {
      this.bar.update(this.progress.done, this.payload());
      this.bar.stop();
    } else if (this.lastPlainDone !== this.progress.done) this.plain();
  }

  private plain(): void {
    this.lastPlainMs = this.now();
    this.lastPlainDone = this.progress.done;
    this.out.write(`${progressLine(this.label, this.progress)}\n`);
  }

  private payload() {
    const f = progressFields(this.progress);
    return { doneText: f.done, totalText: f.total, rateText: f.rate, etaText: f.eta };
  }
}
