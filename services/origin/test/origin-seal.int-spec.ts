import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { contentDescriptorSchema } from '@fleetcast/contracts';
import { blockCount, generateContentKey, MANIFEST_BLOCK_SIZE, openBlock, sealedSize } from '@fleetcast/content';
import { listFiles, RunningOrigin, startOrigin } from './origin-harness';

/**
 * Sealing for confidential packages on a real origin (real HTTP, real store on disk): the stored
 * plaintext becomes ciphertext content of its own, with block hashes over the ciphertext; the
 * plaintext is removed when asked; nothing of the key is stored; the route wants an API token.
 */
const TOKEN = 'seal-test-token';
const MARKER = Buffer.from('ORIGIN-SEAL-MARKER;');
const PACKAGE_ID = '44444444-4444-4444-8444-444444444444';
let origin: RunningOrigin;

const auth = { authorization: `Bearer ${TOKEN}` };

async function upload(body: Buffer): Promise<string> {
  const res = await fetch(`${origin.baseUrl}/v1/content`, { method: 'PUT', headers: auth, body });
  assert.ok(res.ok, `upload ${res.status}`);
  return ((await res.json()) as { contentId: string }).contentId;
}

const seal = (contentId: string, body: unknown, headers: Record<string, string> = auth) =>
  fetch(`${origin.baseUrl}/v1/content/${contentId}/seal`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('origin: sealing content for a confidential package', () => {
  before(async () => {
    origin = await startOrigin({ API_TOKENS: TOKEN });
  });
  after(() => origin?.close());

  test('seals into content of its own, hashes over the ciphertext, removes the plaintext, keeps no key', async () => {
    const plain = Buffer.concat(Array.from({ length: Math.ceil((MANIFEST_BLOCK_SIZE * 1.5) / MARKER.length) }, () => MARKER));
    const plainId = await upload(plain);
    const key = generateContentKey();
    const res = await seal(plainId, { packageId: PACKAGE_ID, key: key.toString('base64'), removeSource: true });
    assert.equal(res.status, 201);
    const descriptor = contentDescriptorSchema.parse(await res.json());
    assert.equal(descriptor.size, sealedSize(plain.length));
    const sealed = Buffer.from(await (await fetch(`${origin.baseUrl}/v1/content/${descriptor.contentId}`)).arrayBuffer());
    assert.equal(createHash('sha256').update(sealed).digest('hex'), descriptor.contentId);
    assert.equal(sealed.indexOf(MARKER), -1, 'no plaintext served');
    const hashes = Buffer.from(descriptor.blockHashes, 'base64');
    const count = blockCount(sealed.length, MANIFEST_BLOCK_SIZE);
    const opened: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const block = sealed.subarray(i * MANIFEST_BLOCK_SIZE, (i + 1) * MANIFEST_BLOCK_SIZE);
      assert.deepEqual(createHash('sha256').update(block).digest(), hashes.subarray(i * 32, (i + 1) * 32), `block ${i} hash`);
      opened.push(openBlock(key, { packageId: PACKAGE_ID, blockIndex: i, blockCount: count }, block));
    }
    assert.ok(Buffer.concat(opened).equals(plain));
    assert.equal((await fetch(`${origin.baseUrl}/v1/content/${plainId}`)).status, 404, 'the plaintext is gone');
    for (const file of await listFiles(origin.storeDir)) {
      const bytes = await readFile(join(origin.storeDir, file));
      assert.equal(bytes.indexOf(key), -1, `${file} holds no key`);
      assert.equal(bytes.indexOf(MARKER), -1, `${file} holds no plaintext`);
    }
  });

  test('keeps the plaintext unless asked; refuses without a token, a bad key, or unknown content', async () => {
    const plainId = await upload(randomBytes(5000));
    const key = generateContentKey().toString('base64');
    assert.equal((await seal(plainId, { packageId: PACKAGE_ID, key, removeSource: false }, {})).status, 401);
    assert.equal((await seal(plainId, { packageId: PACKAGE_ID, key: 'short', removeSource: false })).status, 400);
    assert.equal((await seal('0'.repeat(64), { packageId: PACKAGE_ID, key, removeSource: false })).status, 404);
    assert.equal((await seal(plainId, { packageId: PACKAGE_ID, key, removeSource: false })).status, 201);
    assert.equal((await fetch(`${origin.baseUrl}/v1/content/${plainId}`)).status, 200, 'the plaintext is kept');
  });
});
