import { OUTPUT_TAIL_MAX_CHARS } from '@fleetcast/contracts';

/**
 * Keeps only the last `maxChars` characters of a text that arrives in pieces, so an installer that
 * prints gigabytes costs at most one piece plus the tail in memory. The end of the output is kept
 * because that is where an installer says why it failed.
 */
export class OutputTail {
  private tail = '';
  private seen = 0;

  constructor(readonly maxChars: number = OUTPUT_TAIL_MAX_CHARS) {
    if (!Number.isInteger(maxChars) || maxChars < 0) throw new RangeError(`maxChars must be a non-negative integer, got ${maxChars}`);
  }

  append(text: string): void {
    this.seen += text.length;
    const joined = text.length >= this.maxChars ? text : this.tail + text;
    this.tail = joined.length > this.maxChars ? dropLoneLowSurrogate(joined.slice(joined.length - this.maxChars)) : joined;
  }

  /** Characters appended in all, kept or not. */
  get totalChars(): number {
    return this.seen;
  }

  get truncated(): boolean {
    return this.seen > this.tail.length;
  }

  toString(): string {
    return this.tail;
  }
}

/** Cutting inside a surrogate pair would leave half a character at the start; drop it. */
function dropLoneLowSurrogate(text: string): string {
  const first = text.charCodeAt(0);
  return first >= 0xdc00 && first <= 0xdfff ? text.slice(1) : text;
}
