import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blocksPath, contentPath, shardDir, tempPath } from './content-paths';

const id = 'ab' + 'c'.repeat(62);

test('content lives under sha256/<first two hex>/<hex>, blocks beside it', () => {
  assert.equal(shardDir('/store', id), '/store/sha256/ab');
  assert.equal(contentPath('/store', id), `/store/sha256/ab/${id}`);
  assert.equal(blocksPath('/store', id), `/store/sha256/ab/${id}.blocks`);
});

test('temp files live in tmp/ beside sha256/', () => {
  assert.equal(tempPath('/store', 'upload-1'), '/store/tmp/upload-1');
});

test('anything that is not a lowercase SHA-256 is refused before it becomes a path', () => {
  for (const bad of ['', '../' + 'a'.repeat(61), 'A'.repeat(64), 'a'.repeat(63), 'a'.repeat(65), 'g'.repeat(64), `${'a'.repeat(62)}/.`]) {
    assert.throws(() => contentPath('/store', bad), /not a content ID/, JSON.stringify(bad));
  }
  for (const bad of ['..', '.', 'a/b', '']) {
    assert.throws(() => tempPath('/store', bad), /not a temp file name/, JSON.stringify(bad));
  }
});
