import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FleetcastError } from '@fleetcast/contracts';
import { isUploadId, parseChunkHeaders, parseUploadCreation } from './upload-headers';

/** The header a refusal names (its detail's path), or why there was none. */
function refusedHeader(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as FleetcastError).details?.[0]?.path ?? 'no details';
  }
  return 'not refused';
}

describe('upload headers', () => {
  it('reads a creation: size, hash (any case), label', () => {
    assert.deepEqual(parseUploadCreation({ 'upload-length': '2048', 'x-content-sha256': 'AB'.repeat(32), 'x-upload-label': 'pkg-1' }, 10_000), {
      size: 2048,
      sha256: 'ab'.repeat(32),
      label: 'pkg-1',
    });
    assert.deepEqual(parseUploadCreation({ 'upload-length': '0' }, 10), { size: 0, sha256: null, label: null });
  });

  const refusals: Array<[string, Record<string, string | string[]>, string]> = [
    ['no size', {}, 'headers.upload-length'],
    ['a size that is not a number', { 'upload-length': '1e3' }, 'headers.upload-length'],
    ['a negative size', { 'upload-length': '-1' }, 'headers.upload-length'],
    ['a size over the limit', { 'upload-length': '10001' }, 'headers.upload-length'],
    ['a size given twice', { 'upload-length': ['1', '2'] }, 'headers.upload-length'],
    ['a hash that is not a SHA-256', { 'upload-length': '1', 'x-content-sha256': 'abc' }, 'headers.x-content-sha256'],
    ['a label with a slash', { 'upload-length': '1', 'x-upload-label': 'a/b' }, 'headers.x-upload-label'],
  ];
  for (const [what, headers, header] of refusals) {
    it(`refuses ${what}, naming ${header}`, () => {
      assert.equal(
        refusedHeader(() => parseUploadCreation(headers, 10_000)),
        header,
      );
    });
  }

  it('reads a chunk: the offset is required, the length optional', () => {
    assert.deepEqual(parseChunkHeaders({ 'upload-offset': '5', 'content-length': '7' }), { offset: 5, length: 7 });
    assert.deepEqual(parseChunkHeaders({ 'upload-offset': '0' }), { offset: 0, length: undefined });
    assert.equal(refusedHeader(() => parseChunkHeaders({})), 'headers.upload-offset');
    assert.equal(refusedHeader(() => parseChunkHeaders({ 'upload-offset': 'x' })), 'headers.upload-offset');
  });

  it('knows upload IDs by their shape (random UUIDs), so that no ID can name a path', () => {
    assert.equal(isUploadId('0f8fad5b-d9cb-469f-a165-70867728950e'), true);
    assert.equal(isUploadId('../../etc/passwd'), false);
    assert.equal(isUploadId('0F8FAD5B-D9CB-469F-A165-70867728950E'), false);
  });
});
