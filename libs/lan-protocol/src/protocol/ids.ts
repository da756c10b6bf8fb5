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
