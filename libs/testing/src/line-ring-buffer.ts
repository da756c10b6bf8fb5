/**
 * Keeps the last `capacity` lines written to it, so that a failing test can show what a child
 * process printed just before, without holding a chatty process's whole output in memory.
 * Several sources (stdout, stderr) can write to one buffer: each keeps its own unfinished line, so
 * chunks from different pipes never splice into one line.
 */
export class LineRingBuffer {
  private readonly ring: string[] = [];
  /** Index in `ring` of the oldest line once the ring is full. */
  private head = 0;
  private droppedCount = 0;
  private readonly partial = new Map<string, { text: string; truncated: boolean }>();

  constructor(
    /** 200 lines: enough to show a stack trace and what led to it. */
    readonly capacity = 200,
    /** A process that prints megabytes without a newline must not defeat the bound. */
    readonly maxLineLength = 16 * 1024,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    if (!Number.isInteger(maxLineLength) || maxLineLength < 1) {
      throw new RangeError(`maxLineLength must be a positive integer, got ${maxLineLength}`);
    }
  }

  /** Appends a chunk from `source` and returns the lines it completed (without their newline). */
  write(chunk: string, source = ''): string[] {
    const pieces = chunk.split('\n');
    const completed: string[] = [];
    for (let i = 0; i < pieces.length; i++) {
      this.appendPartial(source, pieces[i]!);
      if (i < pieces.length - 1) completed.push(this.finishLine(source));
    }
    return completed;
  }

  /** Ends a source: an unterminated last line becomes a line. */
  end(source = ''): string[] {
    const pending = this.partial.get(source);
    return pending && pending.text.length > 0 ? [this.finishLine(source)] : [];
  }

  /**
   * Stored lines, oldest first, followed by any unterminated line of each source (the last words
   * of a crashing process often lack a newline); `completeOnly` leaves those out.
   */
  lines(options: { completeOnly?: boolean } = {}): string[] {
    const stored = this.ring.length < this.capacity ? [...this.ring] : [...this.ring.slice(this.head), ...this.ring.slice(0, this.head)];
    if (options.completeOnly) return stored;
    for (const pending of this.partial.values()) {
      if (pending.text.length > 0) stored.push(pending.truncated ? `${pending.text} [line truncated]` : pending.text);
    }
    return stored;
  }

  /** The lines joined with newlines, for assertion messages. */
  text(): string {
    return this.lines().join('\n');
  }

  /** Lines pushed out of the ring by newer ones. */
  get dropped(): number {
    return this.droppedCount;
  }

  clear(): void {
    this.ring.length = 0;
    this.head = 0;
    this.droppedCount = 0;
    this.partial.clear();
  }

  private appendPartial(source: string, piece: string): void {
    const pending = this.partial.get(source) ?? { text: '', truncated: false };
    if (!pending.truncated) {
      const text = pending.text + piece;
      if (text.length > this.maxLineLength) {
        pending.text = text.slice(0, this.maxLineLength);
        pending.truncated = true;
      } else {
        pending.text = text;
      }
    }
    this.partial.set(source, pending);
  }

  private finishLine(source: string): string {
    const pending = this.partial.get(source)!;
    this.partial.delete(source);
    // Windows-style and some CLI tools' output ends lines with \r\n.
    const bare = pending.text.endsWith('\r') ? pending.text.slice(0, -1) : pending.text;
    const line = pending.truncated ? `${bare} [line truncated]` : bare;
    this.store(line);
    return line;
  }

  private store(line: string): void {
    if (this.ring.length < this.capacity) {
      this.ring.push(line);
      return;
    }
    this.ring[this.head] = line;
    this.head = (this.head + 1) % this.capacity;
    this.droppedCount += 1;
  }
}
