import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CauchyReedSolomon, ErasureCodingError, createErasureCoder } from './fec';
import { MUL_TABLE, gfDiv, gfInv, gfMul, invertMatrix, mulAddInto } from './gf256';
import { seededRandom, shuffled } from './seeded-random';
import { jsRegionCoder, simdRegionCoder } from './gf256-simd';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function randomSymbols(random: () => number, k: number, length: number, lastLength = length): Uint8Array[] {
  // Symbols cut from one aligned buffer, as a block's are, so the word-wise paths run.
  const block = Uint8Array.from({ length: k * length }, () => Math.floor(random() * 256));
  return Array.from({ length: k }, (_, j) => block.subarray(j * length, j * length + (j === k - 1 ? lastLength : length)));
}

/** All subsets of size r of [0, n). */
function* combinations(n: number, r: number, start = 0, prefix: number[] = []): Generator<number[]> {
  if (prefix.length === r) {
    yield prefix;
    return;
  }
  for (let i = start; i <= n - (r - prefix.length); i++) yield* combinations(n, r, i + 1, [...prefix, i]);
}

test('GF(2^8): multiplication table, inverses and division agree', () => {
  for (let a = 1; a < 256; a++) {
    assert.equal(gfMul(a, gfInv(a)), 1, `a = ${a}`);
    assert.equal(gfMul(a, 1), a);
    assert.equal(gfMul(a, 0), 0);
    for (let b = 1; b < 256; b += 7) {
      assert.equal(MUL_TABLE[(a << 8) | b], gfMul(a, b));
      assert.equal(gfMul(gfDiv(a, b), b), a);
    }
  }
  assert.equal(gfMul(2, 0x80), 0x1d, 'x * x^7 = x^8 = x^4 + x^3 + x^2 + 1 under 0x11d');
  assert.throws(() => gfDiv(1, 0), RangeError);
});

test('mulAddInto: word-wise and byte-wise paths agree at every alignment and length', () => {
  const random = seededRandom(3);
  const buffer = Uint8Array.from({ length: 96 }, () => Math.floor(random() * 256));
  for (const c of [0, 1, 2, 0x53, 0xff]) {
    for (const offset of [0, 1, 4]) {
      for (const length of [0, 3, 16, 17, 40]) {
        const src = buffer.subarray(offset, offset + length);
        const out = new Uint8Array(48).fill(0x5a);
        const expected = out.slice();
        for (let i = 0; i < length; i++) expected[i] ^= gfMul(c, src[i]);
        mulAddInto(out, src, c);
        assert.equal(hex(out), hex(expected), `c=${c} offset=${offset} length=${length}`);
      }
    }
  }
});

test('matrix inversion: a matrix times its inverse is the identity; singular gives null', () => {
  const m = [Uint8Array.from([1, 2, 3]), Uint8Array.from([4, 5, 6]), Uint8Array.from([7, 8, 10])];
  const inv = invertMatrix(m);
  assert.ok(inv);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      let sum = 0;
      for (let i = 0; i < 3; i++) sum ^= gfMul(m[r][i], inv[i][c]);
      assert.equal(sum, r === c ? 1 : 0);
    }
  }
  assert.equal(invertMatrix([Uint8Array.from([1, 2]), Uint8Array.from([1, 2])]), null);
});

test('golden parity: the code is part of the wire format, so its symbols are pinned', () => {
  // Checked against an independent implementation of the same construction (not this code).
  const coder = createErasureCoder(3, 3);
  const data = [Uint8Array.from([1, 2, 3, 4]), Uint8Array.from([5, 6, 7, 8]), Uint8Array.from([9, 10, 11, 12])];
  assert.deepEqual(coder.encode(data, [0, 1, 2, 252]).map(hex), ['0d0e0f00', '467b9ba3', '7b26e698', '654e57ab']);
  assert.equal(hex(coder.encode(data, [0])[0]), hex(data.reduce((acc, d) => acc.map((x, i) => x ^ d[i]), new Uint8Array(4))), 'parity 0 is the XOR');
});

const EXHAUSTIVE: Array<{ k: number; m: number }> = [
  { k: 1, m: 1 },
  { k: 1, m: 4 },
  { k: 2, m: 2 },
  { k: 4, m: 2 },
  { k: 5, m: 3 },
  { k: 3, m: 6 },
];

test('any k of k + m symbols decode the data: every loss pattern of small codes', () => {
  const random = seededRandom(11);
  for (const { k, m } of EXHAUSTIVE) {
    const coder = createErasureCoder(k, m);
    const data = randomSymbols(random, k, 24, 17);
    const parity = coder.encode(data);
    const all = [...data, ...parity];
    for (let keep = 0; keep <= k + m; keep++) {
      for (const subset of combinations(k + m, keep)) {
        const received = new Map(subset.map((i) => [i, all[i]] as [number, Uint8Array]));
        const decoded = coder.decode(received);
        if (keep < k) {
          assert.equal(decoded, null, `k=${k} m=${m} keep ${subset}`);
          continue;
        }
        assert.ok(decoded, `k=${k} m=${m} keep ${subset}`);
        for (let j = 0; j < k; j++) assert.equal(hex(decoded[j].subarray(0, data[j].length)), hex(data[j]), `k=${k} m=${m} keep ${subset} symbol ${j}`);
      }
    }
  }
});

test('k = 32, m = 8 with 1,400-byte symbols: structured and random loss patterns', () => {
  const k = 32;
  const m = 8;
  const random = seededRandom(5);
  const coder = createErasureCoder(k, m);
  const data = randomSymbols(random, k, 1400, 1376);
  const parity = coder.encode(data);
  const all = [...data, ...parity];
  const patterns: Array<{ name: string; lost: number[] }> = [
    { name: 'nothing lost', lost: [] },
    { name: 'all parity lost', lost: [32, 33, 34, 35, 36, 37, 38, 39] },
    { name: 'first 8 data lost', lost: [0, 1, 2, 3, 4, 5, 6, 7] },
    { name: 'last 8 data lost (incl. the short one)', lost: [24, 25, 26, 27, 28, 29, 30, 31] },
    { name: 'one data lost', lost: [17] },
    { name: 'mixed', lost: [0, 31, 32, 39, 5, 6] },
  ];
  for (let i = 0; i < 60; i++) {
    const count = Math.floor(random() * (m + 1));
    patterns.push({ name: `random ${i}`, lost: shuffled([...Array(k + m).keys()], random).slice(0, count) });
  }
  for (const { name, lost } of patterns) {
    const received = new Map<number, Uint8Array>();
    all.forEach((symbol, i) => {
      if (!lost.includes(i)) received.set(i, symbol);
    });
    const decoded = coder.decode(received);
    assert.ok(decoded, name);
    for (let j = 0; j < k; j++) {
      assert.equal(decoded[j].length >= data[j].length, true);
      assert.equal(hex(decoded[j].subarray(0, data[j].length)), hex(data[j]), `${name}: symbol ${j}`);
    }
    // A recovered short symbol comes back zero-padded: the padding is all zeros.
    if (lost.includes(31)) assert.ok(decoded[31].subarray(1376).every((b) => b === 0), `${name}: padding`);
  }
  // One symbol short of k fails cleanly, whichever symbols they are.
  for (let i = 0; i < 20; i++) {
    const keep = shuffled([...Array(k + m).keys()], random).slice(0, k - 1);
    if (keep.every((x) => x < k)) continue;
    assert.equal(coder.decode(new Map(keep.map((x) => [x, all[x]] as [number, Uint8Array]))), null);
  }
});

test('repair on demand: parity indexes past m, up to 256 - k - 1, decode like any other', () => {
  const k = 32;
  const random = seededRandom(8);
  const coder = new CauchyReedSolomon(k, 1);
  assert.equal(coder.maxParityIndex, 223);
  const data = randomSymbols(random, k, 64);
  // The first pass sent parity 0; three receivers each lost different symbols; repair rounds sent 1, 100 and 223.
  const [p0, p1, p100, p223] = coder.encode(data, [0, 1, 100, 223]);
  const received = new Map<number, Uint8Array>();
  data.forEach((d, j) => {
    if (![3, 9, 20, 30].includes(j)) received.set(j, d);
  });
  received.set(k + 0, p0).set(k + 1, p1).set(k + 100, p100).set(k + 223, p223);
  const decoded = coder.decode(received);
  assert.ok(decoded);
  assert.deepEqual(decoded.map(hex), data.map(hex));
  assert.throws(() => coder.encode(data, [224]), (e: unknown) => e instanceof ErasureCodingError && e.code === 'FEC.INVALID_INPUT');
});

test('one XOR parity symbol repairs a different single loss at every receiver', () => {
  const k = 32;
  const random = seededRandom(9);
  const coder = createErasureCoder(k, 1);
  const data = randomSymbols(random, k, 1400);
  const [parity] = coder.encode(data);
  for (let lost = 0; lost < k; lost++) {
    const received = new Map<number, Uint8Array>(data.map((d, j) => [j, d] as [number, Uint8Array]));
    received.delete(lost);
    received.set(k, parity);
    assert.equal(hex(coder.decode(received)![lost]), hex(data[lost]), `receiver that lost ${lost}`);
  }
});

test('invalid use is refused with a stable code', () => {
  const bad: Array<[string, () => unknown]> = [
    ['k = 0', () => new CauchyReedSolomon(0, 1)],
    ['k + m past 256', () => new CauchyReedSolomon(200, 57)],
    ['wrong symbol count', () => createErasureCoder(4, 2).encode([new Uint8Array(4)])],
    ['empty symbols', () => createErasureCoder(2, 1).encode([new Uint8Array(0), new Uint8Array(0)])],
    ['index past 255', () => createErasureCoder(2, 1).decode(new Map([[256, new Uint8Array(1)]]))],
  ];
  for (const [name, run] of bad) assert.throws(run, (e: unknown) => e instanceof ErasureCodingError && e.code === 'FEC.INVALID_INPUT', name);
  assert.equal(createErasureCoder(32, 8), createErasureCoder(32, 8), 'coders are cached');
  assert.equal(new CauchyReedSolomon(32, 224).paritySymbols, 224, 'k + m = 256 is the largest code');
});

test('region coder: WebAssembly SIMD gives the bytes of the JavaScript loop, for every coefficient, odd lengths, short and absent inputs, initial values', (t) => {
  const simd = simdRegionCoder();
  if (simd === null) return t.skip('this runtime has no WebAssembly SIMD: the coder runs on the JavaScript loop');
  const random = seededRandom(77);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
  for (const length of [1, 15, 16, 17, 1400, 1405]) {
    const inputs = [bytes(length), bytes(Math.max(1, length - 3)), undefined, bytes(length)];
    const initial = [bytes(length), bytes(length), bytes(length)];
    const coefficient = (o: number, j: number) => (o * 97 + j * 31 + length) & 0xff;
    for (const start of [undefined, initial]) {
      const expected = jsRegionCoder.combine(3, coefficient, inputs, length, start);
      assert.deepEqual(simd.combine(3, coefficient, inputs, length, start), expected, `length ${length}`);
    }
  }
  // Every coefficient against gfMul, byte by byte (the tables are built per coefficient).
  const one = bytes(256);
  for (let c = 0; c < 256; c++) {
    const [out] = simd.combine(1, () => c, [one], 256);
    for (let i = 0; i < 256; i++) assert.equal(out[i], gfMul(c, one[i]), `c=${c} x=${one[i]}`);
  }
  // Regions larger than the module's first page make it grow.
  const big = Array.from({ length: 200 }, () => bytes(1400));
  assert.deepEqual(simd.combine(2, (o, j) => (o + j) & 0xff, big, 1400), jsRegionCoder.combine(2, (o, j) => (o + j) & 0xff, big, 1400));
});
