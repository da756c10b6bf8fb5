/**
 * Session and sender IDs travel as 8 raw bytes and live in memory as 16 lowercase hex characters:
 * a string compares, keys a Map and logs as-is, and two equal-length lowercase hex strings order
 * exactly as the numbers they spell (the election's tie-break relies on that).
 */

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const HEX_ID = /^[0-9a-f]+$/;

export function isHexId(value: unknown, bytes: number): value is string {
  return typeof value === 'string' && value.length === bytes * 2 && HEX_ID.test(value);
}

export function bytesToHex(bytes: Uint8Array, start: number, length: number): string {
  let out = '';
  for (let i = start; i < start + length; i++) out += HEX[bytes[i]];
  return out;
}

/** Writes a validated hex ID into `target` at `offset`. */
export function writeHex(target: Uint8Array, offset: number, hex: string): void {
  for (let i = 0; i < hex.length; i += 2) target[offset + i / 2] = parseInt(hex.slice(i, i + 2), 16);
}

/**
 * `bytesToHex` for the IDs of a packet header, remembering the last bytes it saw: nearly every
 * datagram of a session carries the same session and sender ID, so the string is built once rather
 * than for each datagram (and the same string object keys the Map lookups that follow).
 */
export class HexIdCache {
  private readonly last: Uint8Array;
  private hex = '';

  constructor(private readonly length: number) {
    this.last = new Uint8Array(length);
  }

  read(bytes: Uint8Array, start: number): string {
    const { last, length } = this;
    let same = this.hex !== '';
    for (let i = 0; same && i < length; i++) same = last[i] === bytes[start + i];
    if (same) return this.hex;
    for (let i = 0; i < length; i++) last[i] = bytes[start + i];
    this.hex = bytesToHex(bytes, start, length);
    return this.hex;
  }
}
