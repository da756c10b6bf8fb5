import { MAX_CODE_SYMBOLS } from '../protocol/constants';
import { gfDiv, invertMatrix } from './gf256';
import { RegionCoder, jsRegionCoder, simdRegionCoder } from './gf256-simd';

/**
 * Erasure coding of FEC groups: k data symbols plus parity symbols, any k of which give back the data.
 *
 * Decision: a pure-TypeScript systematic Cauchy Reed-Solomon code over GF(2^8), not the native addon
 * `@ronomon/reed-solomon`. The addon builds here and is MIT, but it is capped at 24 data and 6
 * parity shards (its MAX_K and MAX_M), below our group of 32 and far below the on-demand repair
 * indexes the protocol needs (a group may send up to 256 - k distinct parity symbols over its repair
 * rounds); it is also asynchronous only (one threadpool hop a group) and a rarely published
 * single-author package. The coder encodes and decodes k = 32, m = 8 groups of 1,400-byte symbols
 * at rates well above a gigabit LAN on one core (docs/benchmarks.md gives the measured figures and
 * the command). Its multiply-adds run in WebAssembly SIMD where the runtime has it (gf256-simd.ts:
 * a 145-byte module written out in the source, ~9x the JavaScript loop, which remains the fallback
 * and gives the same bytes): with groups of 128 and more, repair and decoding at 5 % loss were most
 * of a receiver's CPU time with the JavaScript loop.
 *
 * Code: generator [I; C] with C a Cauchy matrix, C[i][j] = 1 / (x_i + y_j), x_i = k + i, y_j = j,
 * every column scaled so that parity row 0 is all ones (a plain XOR of the group, the repair a single
 * loss needs, and the cheapest). Column scaling keeps every square submatrix of C invertible, so the
 * code stays MDS: any k distinct symbols decode. Parity symbol i depends on i and k only, never on
 * how many parity symbols exist, so the sender makes fresh repair symbols on demand.
 */

/** Encodes and decodes one FEC group's symbols. Symbol indexes: data 0..k-1, parity i is k + i. */
export interface ErasureCoder {
  readonly dataSymbols: number;
  readonly paritySymbols: number;
  /**
   * Parity symbols of a group: by default 0..paritySymbols-1, or the parity indexes given (any up to
   * 256 - k - 1). Data symbols may be shorter than the longest (a block's last symbol): they count
   * as zero-padded, and parity symbols have the longest one's length.
   */
  encode(dataSymbols: readonly Uint8Array[], parityIndexes?: readonly number[]): Uint8Array[];
  /**
   * The k data symbols from any k distinct received symbols (keyed by symbol index), or null when
   * fewer than k arrived. A recovered symbol has the parity length; the caller trims a block's last
   * symbol to its true length (see `symbolSpan`).
   */
  decode(received: ReadonlyMap<number, Uint8Array>): Uint8Array[] | null;
}

export class ErasureCodingError extends Error {
  readonly code = 'FEC.INVALID_INPUT';

  constructor(message: string) {
    super(message);
    this.name = 'ErasureCodingError';
  }
}

export class CauchyReedSolomon implements ErasureCoder {
  private readonly rows = new Map<number, Uint8Array>();

  constructor(
    readonly dataSymbols: number,
    readonly paritySymbols: number,
  ) {
    if (!Number.isInteger(dataSymbols) || dataSymbols < 1 || dataSymbols >= MAX_CODE_SYMBOLS) {
      throw new ErasureCodingError(`data symbols must be 1..${MAX_CODE_SYMBOLS - 1}, got ${dataSymbols}`);
    }
    if (!Number.isInteger(paritySymbols) || paritySymbols < 0 || dataSymbols + paritySymbols > MAX_CODE_SYMBOLS) {
      throw new ErasureCodingError(`data + parity symbols must be at most ${MAX_CODE_SYMBOLS}, got ${dataSymbols} + ${paritySymbols}`);
    }
  }

  /** Most parity indexes this k allows: the field has 256 evaluation points, k of them taken by data. */
  get maxParityIndex(): number {
    return MAX_CODE_SYMBOLS - this.dataSymbols - 1;
  }

  encode(dataSymbols: readonly Uint8Array[], parityIndexes?: readonly number[]): Uint8Array[] {
    const k = this.dataSymbols;
    if (dataSymbols.length !== k) throw new ErasureCodingError(`expected ${k} data symbols, got ${dataSymbols.length}`);
    let length = 0;
    for (const symbol of dataSymbols) length = Math.max(length, symbol.length);
    if (length === 0) throw new ErasureCodingError('data symbols are empty');
    const indexes = parityIndexes ?? Array.from({ length: this.paritySymbols }, (_, i) => i);
    const rows = indexes.map((i) => this.row(i));
    return regions().combine(rows.length, (o, j) => rows[o][j], dataSymbols, length);
  }

  decode(received: ReadonlyMap<number, Uint8Array>): Uint8Array[] | null {
    const k = this.dataSymbols;
    let length = 0;
    for (const [index, symbol] of received) {
      if (!Number.isInteger(index) || index < 0 || index >= MAX_CODE_SYMBOLS) throw new ErasureCodingError(`symbol index ${index} is outside 0..${MAX_CODE_SYMBOLS - 1}`);
      length = Math.max(length, symbol.length);
    }
    const missing: number[] = [];
    for (let j = 0; j < k; j++) if (!received.has(j)) missing.push(j);
    if (missing.length === 0) return Array.from({ length: k }, (_, j) => received.get(j) as Uint8Array);
    const parity = [...received.keys()].filter((index) => index >= k).sort((a, b) => a - b).slice(0, missing.length);
    if (parity.length < missing.length) return null;

    // Take the known data out of each parity symbol, leaving e equations in the e missing symbols.
    const rows = parity.map((index) => this.row(index - k));
    const data = Array.from({ length: k }, (_, j) => received.get(j));
    const remainders = regions().combine(rows.length, (o, j) => rows[o][j], data, length, parity.map((index) => received.get(index) as Uint8Array));
    const system = rows.map((row) => Uint8Array.from(missing, (j) => row[j]));
    const inverse = invertMatrix(system);
    if (inverse === null) throw new ErasureCodingError('singular decode matrix: the code is not MDS (a bug)');
    const recovered = regions().combine(missing.length, (m, r) => inverse[m][r], remainders, length);

    const out: Uint8Array[] = [];
    let m = 0;
    for (let j = 0; j < k; j++) {
      const symbol = data[j];
      out.push(symbol !== undefined ? symbol : recovered[m++]);
    }
    return out;
  }

  /** Coefficients of parity symbol i over the k data symbols: (x_0 + y_j) / (x_i + y_j). */
  private row(parityIndex: number): Uint8Array {
    const k = this.dataSymbols;
    if (!Number.isInteger(parityIndex) || parityIndex < 0 || parityIndex > this.maxParityIndex) {
      throw new ErasureCodingError(`parity index ${parityIndex} is outside 0..${this.maxParityIndex} for k = ${k}`);
    }
    let row = this.rows.get(parityIndex);
    if (row === undefined) {
      row = Uint8Array.from({ length: k }, (_, j) => gfDiv(k ^ j, (k + parityIndex) ^ j));
      this.rows.set(parityIndex, row);
    }
    return row;
  }
}

let regionCoder: RegionCoder | null = null;

/** WebAssembly SIMD where the runtime has it (about 9x the JavaScript loop), else the JavaScript loop: the same bytes. */
function regions(): RegionCoder {
  regionCoder ??= simdRegionCoder() ?? jsRegionCoder;
  return regionCoder;
}

const coders = new Map<number, CauchyReedSolomon>();

/**
 * The coder for groups of k data symbols; `paritySymbols` is how many `encode()` makes by default.
 * Coders are cached per (k, m): a session has at most two group sizes (full and a block's last).
 */
export function createErasureCoder(dataSymbols: number, paritySymbols: number): ErasureCoder {
  const key = dataSymbols * 1024 + paritySymbols;
  let coder = coders.get(key);
  if (coder === undefined) {
    coder = new CauchyReedSolomon(dataSymbols, paritySymbols);
    coders.set(key, coder);
  }
  return coder;
}
