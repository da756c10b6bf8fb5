import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  ConfidentialBlockError,
  generateContentKey,
  openBlock,
  openedSize,
  sealBlock,
  sealedBlockCount,
  sealedSize,
  SEALED_PLAIN_BLOCK_SIZE,
  SEAL_TAG_BYTES,
  unwrapContentKey,
  wrapContentKey,
} from './confidential';
import { MANIFEST_BLOCK_SIZE } from './manifest';
import { openFile, sealFile } from './sealed-file';

const PKG = '0f8c1d2e-3b4a-4c5d-8e6f-7a8b9c0d1e2f';
const ctx = (blockIndex: number, blockCount = 4) => ({ packageId: PKG, blockIndex, blockCount });

test('confidential: a block seals and opens back to the same bytes', () => {
  const key = generateContentKey();
  const plain = randomBytes(1000);
  const sealed = sealBlock(key, ctx(2), plain);
  assert.equal(sealed.length, plain.length + SEAL_TAG_BYTES);
  assert.notDeepEqual(sealed.subarray(0, plain.length), plain);
  assert.deepEqual(openBlock(key, ctx(2), sealed), plain);
});

test('confidential: a full plaintext block seals into exactly one manifest block', () => {
  const sealed = sealBlock(generateContentKey(), ctx(0, 1), Buffer.alloc(SEALED_PLAIN_BLOCK_SIZE, 7));
  assert.equal(sealed.length, MANIFEST_BLOCK_SIZE);
  assert.throws(() => sealBlock(generateContentKey(), ctx(0, 1), Buffer.alloc(SEALED_PLAIN_BLOCK_SIZE + 1)), RangeError);
});

test('confidential: the same plaintext at two indexes seals differently (the nonce is the index)', () => {
  const key = generateContentKey();
  const plain = Buffer.alloc(64, 1);
  assert.notDeepEqual(sealBlock(key, ctx(0), plain), sealBlock(key, ctx(1), plain));
});

// Every way a block can be wrong: each must be refused, never opened into other bytes.
const tampered: Array<[string, (sealed: Buffer) => { key?: Buffer; at?: ReturnType<typeof ctx>; bytes: Buffer }]> = [
  ['a flipped ciphertext bit', (s) => ({ bytes: Buffer.concat([Buffer.from([s[0]! ^ 1]), s.subarray(1)]) })],
  ['a flipped tag bit', (s) => ({ bytes: Buffer.concat([s.subarray(0, -1), Buffer.from([s[s.length - 1]! ^ 0x80])]) })],
  ['a truncated block', (s) => ({ bytes: s.subarray(0, s.length - 1) })],
  ['another index', (s) => ({ at: ctx(2), bytes: s })],
  ['another block count (the tail cut off)', (s) => ({ at: ctx(1, 2), bytes: s })],
  ['another package', (s) => ({ at: { packageId: `${PKG.slice(0, -1)}0`, blockIndex: 1, blockCount: 4 }, bytes: s })],
  ['another key (a device without the key)', (s) => ({ key: generateContentKey(), bytes: s })],
  ['too short to hold a tag', () => ({ bytes: Buffer.alloc(SEAL_TAG_BYTES - 1) })],
];
for (const [name, change] of tampered) {
  test(`confidential: ${name} is refused`, () => {
    const key = generateContentKey();
    const sealed = sealBlock(key, ctx(1), randomBytes(300));
    const bad = change(sealed);
    assert.throws(() => openBlock(bad.key ?? key, bad.at ?? ctx(1), bad.bytes), ConfidentialBlockError);
  });
}

test('confidential: an index outside the block count and a short key are programming errors', () => {
  assert.throws(() => sealBlock(generateContentKey(), ctx(4, 4), Buffer.alloc(1)), RangeError);
  assert.throws(() => sealBlock(Buffer.alloc(16), ctx(0), Buffer.alloc(1)), RangeError);
});

test('confidential: sizes map both ways, and sizes no sealing makes are refused', () => {
  for (const plain of [0, 1, SEALED_PLAIN_BLOCK_SIZE - 1, SEALED_PLAIN_BLOCK_SIZE, SEALED_PLAIN_BLOCK_SIZE + 1, 5 * SEALED_PLAIN_BLOCK_SIZE + 12345]) {
    assert.equal(openedSize(sealedSize(plain)), plain, `plain ${plain}`);
  }
  assert.equal(sealedBlockCount(0), 1);
  assert.equal(sealedSize(0), SEAL_TAG_BYTES);
  assert.equal(openedSize(SEAL_TAG_BYTES - 1), null);
  assert.equal(openedSize(MANIFEST_BLOCK_SIZE + SEAL_TAG_BYTES), null, 'a trailing block of tag only');
  assert.equal(openedSize(MANIFEST_BLOCK_SIZE + 3), null);
});

test('confidential: a wrapped key unwraps under its wrapping key and package only', () => {
  const wrapping = generateContentKey();
  const key = generateContentKey();
  const wrapped = wrapContentKey(wrapping, PKG, key);
  assert.deepEqual(unwrapContentKey(wrapping, PKG, wrapped), key);
  assert.notDeepEqual(wrapContentKey(wrapping, PKG, key), wrapped, 'a random nonce per wrap');
  assert.throws(() => unwrapContentKey(generateContentKey(), PKG, wrapped), ConfidentialBlockError);
  assert.throws(() => unwrapContentKey(wrapping, 'another-package', wrapped), ConfidentialBlockError);
  assert.throws(() => unwrapContentKey(wrapping, PKG, wrapped.subarray(1)), ConfidentialBlockError);
});

test('confidential: a file of several blocks seals without its plaintext and opens back whole', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sealed-file-'));
  try {
    const marker = Buffer.from('MARKER-confidential-plaintext-');
    const plain = Buffer.concat(Array.from({ length: Math.ceil((2.5 * MANIFEST_BLOCK_SIZE) / marker.length) }, () => marker));
    await writeFile(join(dir, 'plain'), plain);
    const key = generateContentKey();
    const blocks: number[] = [];
    const size = await sealFile(key, PKG, join(dir, 'plain'), join(dir, 'sealed'), (b) => blocks.push(b.length));
    const sealed = await readFile(join(dir, 'sealed'));
    assert.equal(size, sealedSize(plain.length));
    assert.equal(sealed.length, size);
    assert.deepEqual(blocks.slice(0, -1), [MANIFEST_BLOCK_SIZE, MANIFEST_BLOCK_SIZE], 'sealed blocks are manifest blocks');
    assert.equal(sealed.indexOf(marker), -1, 'no plaintext in the sealed file');
    assert.equal(await openFile(key, PKG, join(dir, 'sealed'), join(dir, 'opened')), plain.length);
    assert.ok((await readFile(join(dir, 'opened'))).equals(plain));
    await assert.rejects(openFile(generateContentKey(), PKG, join(dir, 'sealed'), join(dir, 'refused')), ConfidentialBlockError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
