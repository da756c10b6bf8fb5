/**
 * Arithmetic in GF(2^8) with the primitive polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), the one of
 * most Reed-Solomon erasure codes (Jerasure, ISA-L, Backblaze's). Addition is XOR; multiplication
 * goes through one 64 KiB table so the symbol loops do a single lookup per byte.
 */

const PRIMITIVE_POLYNOMIAL = 0x11d;

const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= PRIMITIVE_POLYNOMIAL;
  }
  // Doubling the table spares a modulo in gfMul.
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255];
}

/** MUL_TABLE[(a << 8) | b] = a * b. */
export const MUL_TABLE: Uint8Array = (() => {
  const table = new Uint8Array(256 * 256);
  for (let a = 1; a < 256; a++) {
    for (let b = 1; b < 256; b++) table[(a << 8) | b] = EXP[LOG[a] + LOG[b]];
  }
  return table;
})();

export function gfMul(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]];
}

export function gfDiv(a: number, b: number): number {
  if (b === 0) throw new RangeError('division by zero in GF(2^8)');
  return a === 0 ? 0 : EXP[LOG[a] + 255 - LOG[b]];
}

export function gfInv(a: number): number {
  return gfDiv(1, a);
}

/**
 * out ^= c * src over src's length (out may be longer: the missing tail of a short symbol counts
 * as zeros). Word-wise XOR for c = 1, the coefficient of every first parity symbol.
 */
export function mulAddInto(out: Uint8Array, src: Uint8Array, c: number): void {
  if (c === 0) return;
  const n = src.length;
  let i = 0;
  if (c === 1) {
    if ((out.byteOffset & 3) === 0 && (src.byteOffset & 3) === 0 && n >= 16) {
      const words = n >>> 2;
      const o32 = new Uint32Array(out.buffer, out.byteOffset, words);
      const s32 = new Uint32Array(src.buffer, src.byteOffset, words);
      for (let w = 0; w < words; w++) o32[w] ^= s32[w];
      i = words << 2;
    }
    for (; i < n; i++) out[i] ^= src[i];
    return;
  }
  const base = c << 8;
  const t = MUL_TABLE;
  if ((out.byteOffset & 3) === 0 && (src.byteOffset & 3) === 0 && n >= 16) {
    // One 32-bit load and one read-modify-write of `out` per four bytes, instead of four of each.
    const words = n >>> 2;
    const o32 = new Uint32Array(out.buffer, out.byteOffset, words);
    const s32 = new Uint32Array(src.buffer, src.byteOffset, words);
    for (let w = 0; w < words; w++) {
      const v = s32[w];
      o32[w] ^= t[base | (v & 0xff)] | (t[base | ((v >>> 8) & 0xff)] << 8) | (t[base | ((v >>> 16) & 0xff)] << 16) | (t[base | (v >>> 24)] << 24);
    }
    i = words << 2;
  }
  for (; i < n; i++) out[i] ^= t[base | src[i]];
}

/**
 * Inverts a square matrix over GF(2^8) (rows of Uint8Array) by Gauss-Jordan elimination.
 * Returns null when it is singular, which a Cauchy submatrix never is.
 */
export function invertMatrix(matrix: readonly Uint8Array[]): Uint8Array[] | null {
  const n = matrix.length;
  const a = matrix.map((row) => Uint8Array.from(row));
  const inv = Array.from({ length: n }, (_, i) => {
    const row = new Uint8Array(n);
    row[i] = 1;
    return row;
  });
  for (let col = 0; col < n; col++) {
    let pivot = col;
    while (pivot < n && a[pivot][col] === 0) pivot++;
    if (pivot === n) return null;
    if (pivot !== col) {
      [a[pivot], a[col]] = [a[col], a[pivot]];
      [inv[pivot], inv[col]] = [inv[col], inv[pivot]];
    }
    const scale = gfInv(a[col][col]);
    scaleRow(a[col], scale);
    scaleRow(inv[col], scale);
    for (let row = 0; row < n; row++) {
      const factor = a[row][col];
      if (row === col || factor === 0) continue;
      for (let k = 0; k < n; k++) {
        a[row][k] ^= gfMul(factor, a[col][k]);
        inv[row][k] ^= gfMul(factor, inv[col][k]);
      }
    }
  }
  return inv;
}

function scaleRow(row: Uint8Array, c: number): void {
  for (let i = 0; i < row.length; i++) row[i] = gfMul(row[i], c);
}
