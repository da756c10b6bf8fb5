import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateSigningKey, signManifest, verifyManifestSignature } from './manifest';
import { assembleManifestPages, ManifestPagesError, SignedManifestPageWire, toWirePage } from './wire';

const key = generateSigningKey();
const blocks = 45_001;
const signed = signManifest({ contentId: 'a'.repeat(64), size: blocks * 1024 * 1024 - 7, blockSize: 1024 * 1024, blockHashes: randomBytes(blocks * 32) }, key);
const PAGE = 20_000;
const serve = (fromBlock: number) => Promise.resolve(toWirePage(signed, fromBlock, PAGE));

test('a manifest in pages puts together into the signed whole', async () => {
  const asked: number[] = [];
  const whole = await assembleManifestPages((from) => {
    asked.push(from);
    return serve(from);
  });
  assert.deepEqual(asked, [0, 20_000, 40_000]);
  assert.ok(verifyManifestSignature(whole, key.publicKey));
  assert.deepEqual(Buffer.from(whole.value.blockHashes), Buffer.from(signed.value.blockHashes));
});

test('a manifest that fits one page is one reply, as before paging', async () => {
  const small = signManifest({ contentId: 'b'.repeat(64), size: 3, blockSize: 1024 * 1024, blockHashes: randomBytes(32) }, key);
  const page = toWirePage(small, 0, PAGE);
  assert.deepEqual([page.fromBlock, page.nextBlock], [0, null]);
  // A reply of a server that predates paging has neither field.
  const { fromBlock: _f, nextBlock: _n, ...legacy } = page;
  assert.ok(verifyManifestSignature(await assembleManifestPages(() => Promise.resolve(legacy)), key.publicKey));
});

test('pages that do not make one manifest are refused, never looped on', async () => {
  const cases: Array<[string, (p: SignedManifestPageWire) => SignedManifestPageWire]> = [
    ['another signature on a later page', (p) => (p.fromBlock > 0 ? { ...p, signature: Buffer.alloc(64).toString('base64') } : p)],
    ['another size on a later page', (p) => (p.fromBlock > 0 ? { ...p, size: p.size + 1 } : p)],
    ['a page that starts elsewhere than asked', (p) => (p.fromBlock > 0 ? { ...p, fromBlock: p.fromBlock + 1 } : p)],
    ['a next page that skips blocks', (p) => (p.nextBlock !== null ? { ...p, nextBlock: p.nextBlock + 5 } : p)],
    ['an empty page that is not the last', (p) => ({ ...p, blockHashes: '', nextBlock: 0 })],
    ['a next page past the block count', (p) => (p.nextBlock === null ? { ...p, nextBlock: blocks } : p)],
  ];
  for (const [name, tamper] of cases) {
    let calls = 0;
    await assert.rejects(
      assembleManifestPages(async (from) => {
        if (++calls > 10) throw new Error('looped');
        return tamper(await serve(from));
      }),
      ManifestPagesError,
      name,
    );
  }
});
