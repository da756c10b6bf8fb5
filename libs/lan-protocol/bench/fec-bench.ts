/**
 * Erasure coding throughput: the TypeScript Cauchy Reed-Solomon coder of this library (its
 * multiply-adds in WebAssembly SIMD where available, see src/core/gf256-simd.ts), and,
 * when it can be loaded, the native addon `@ronomon/reed-solomon` it was measured against.
 *
 *   npm run bench:fec -w @fleetcast/lan-protocol
 *
 * The addon is not a dependency (see src/core/fec.ts for why). To measure it too, install it in a
 * scratch folder outside the repository and point NODE_PATH at that folder's node_modules.
 * Prints MB/s of data symbols (10^6 bytes per second) for one group size per line.
 */
import { randomBytes } from 'node:crypto';
import { createErasureCoder, simdRegionCoder } from '@fleetcast/lan-protocol';

/** Which multiply-add the coder runs on here: WebAssembly SIMD where the runtime has it, else the JavaScript loop. */
const PATH = simdRegionCoder() === null ? 'pure TS' : 'TS+SIMD';

const SYMBOL_BYTES = 1400;
const MIN_SECONDS = 1.5;

function measure(label: string, dataBytesPerRun: number, run: () => void): void {
  for (let i = 0; i < 20; i++) run(); // warm-up: let the JIT settle before timing
  let runs = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < MIN_SECONDS) {
    for (let i = 0; i < 50; i++) run();
    runs += 50;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  const mbps = (dataBytesPerRun * runs) / elapsed / 1e6;
  console.log(`${label.padEnd(58)} ${mbps.toFixed(0).padStart(6)} MB/s  (${runs} groups in ${elapsed.toFixed(2)} s)`);
}

function benchPure(k: number, m: number): void {
  const coder = createErasureCoder(k, m);
  const block = new Uint8Array(randomBytes(k * SYMBOL_BYTES));
  const data = Array.from({ length: k }, (_, j) => block.subarray(j * SYMBOL_BYTES, (j + 1) * SYMBOL_BYTES));
  const parity = coder.encode(data);
  measure(`${PATH}  k=${k} m=${m} encode (all ${m} parity)`, k * SYMBOL_BYTES, () => coder.encode(data));
  measure(`${PATH}  k=${k} m=${m} encode parity 0 only (XOR row)`, k * SYMBOL_BYTES, () => coder.encode(data, [0]));
  // Worst case for the decoder: the first m data symbols lost, all m parity symbols used.
  const received = new Map<number, Uint8Array>();
  for (let j = m; j < k; j++) received.set(j, data[j]);
  for (let i = 0; i < m; i++) received.set(k + i, parity[i]);
  measure(`${PATH}  k=${k} m=${m} decode (${m} data symbols lost)`, k * SYMBOL_BYTES, () => coder.decode(received));
  const one = new Map(data.map((d, j) => [j, d] as [number, Uint8Array]));
  one.delete(5);
  one.set(k, parity[0]);
  measure(`${PATH}  k=${k} m=${m} decode (1 data symbol lost)`, k * SYMBOL_BYTES, () => coder.decode(one));
}

interface Ronomon {
  MAX_K: number;
  MAX_M: number;
  create(k: number, m: number): unknown;
  encode(
    context: unknown,
    sources: number,
    targets: number,
    buffer: Buffer,
    bufferOffset: number,
    bufferSize: number,
    parity: Buffer,
    parityOffset: number,
    paritySize: number,
    callback: (error?: Error) => void,
  ): void;
}

function loadRonomon(): Ronomon | null {
  try {
    return require('@ronomon/reed-solomon') as Ronomon;
  } catch {
    return null;
  }
}

/** The addon only runs asynchronously (in the threadpool): one group at a time, as a session would. */
async function measureAsync(label: string, dataBytesPerRun: number, run: () => Promise<void>): Promise<void> {
  for (let i = 0; i < 20; i++) await run();
  let runs = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < MIN_SECONDS) {
    for (let i = 0; i < 50; i++) await run();
    runs += 50;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  const mbps = (dataBytesPerRun * runs) / elapsed / 1e6;
  console.log(`${label.padEnd(58)} ${mbps.toFixed(0).padStart(6)} MB/s  (${runs} groups in ${elapsed.toFixed(2)} s)`);
}

async function benchRonomon(rs: Ronomon, k: number, m: number): Promise<void> {
  const context = rs.create(k, m);
  const buffer = randomBytes(k * SYMBOL_BYTES);
  const parity = Buffer.alloc(m * SYMBOL_BYTES);
  const allData = (1 << k) - 1;
  const allParity = ((1 << (k + m)) - 1) & ~allData;
  const encode = (sources: number, targets: number) =>
    new Promise<void>((resolve, reject) =>
      rs.encode(context, sources, targets, buffer, 0, buffer.length, parity, 0, parity.length, (error) => (error ? reject(error) : resolve())),
    );
  await measureAsync(`native   k=${k} m=${m} encode (all ${m} parity)`, k * SYMBOL_BYTES, () => encode(allData, allParity));
  // Decode: the first m data symbols are the targets, rebuilt from the rest and all parity.
  const lost = (1 << m) - 1;
  await measureAsync(`native   k=${k} m=${m} decode (${m} data symbols lost)`, k * SYMBOL_BYTES, () => encode(((1 << (k + m)) - 1) & ~lost, lost));
}

async function main(): Promise<void> {
  console.log(`symbols of ${SYMBOL_BYTES} bytes; MB/s of data symbols; node ${process.version}`);
  benchPure(32, 8);
  benchPure(24, 6);
  // The session's default group (DEFAULT_GROUP_DATA_SYMBOLS) at 5 % loss: about 6 symbols lost a group.
  benchPure(128, 8);
  const rs = loadRonomon();
  if (rs === null) {
    console.log('native   @ronomon/reed-solomon not found (install it outside the repository and set NODE_PATH to measure it)');
    return;
  }
  console.log(`native   @ronomon/reed-solomon loaded: MAX_K = ${rs.MAX_K}, MAX_M = ${rs.MAX_M}`);
  if (32 > rs.MAX_K || 8 > rs.MAX_M) console.log(`native   k=32 m=8 is not supported (MAX_K ${rs.MAX_K}, MAX_M ${rs.MAX_M}); measured at its largest, k=24 m=6`);
  await benchRonomon(rs, Math.min(24, rs.MAX_K), Math.min(6, rs.MAX_M));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
