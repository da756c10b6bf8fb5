import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { findPending, parseUploadState, PendingUpload, PENDING_UPLOAD_MAX_AGE_MS, uploadStatePathOf, withoutPending, withPending } from './upload-state';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const entry = (overrides: Partial<PendingUpload> = {}): PendingUpload => ({
  server: 'https://fc.example',
  file: '/data/tool.bin',
  size: 100,
  mtimeMs: 5,
  sha256: 'a'.repeat(64),
  packageId: 'pkg-1',
  uploadId: 'u-1',
  updatedAt: new Date(NOW).toISOString(),
  ...overrides,
});

describe('upload state', () => {
  test('lives next to the config file', () => {
    assert.equal(uploadStatePathOf('/home/a/.config/fleetcast/config.json'), '/home/a/.config/fleetcast/uploads.json');
  });

  test('finds the pending upload of the same file on the same server only', () => {
    const entries = [entry()];
    assert.equal(findPending(entries, { server: 'https://fc.example', file: '/data/tool.bin', size: 100, mtimeMs: 5 })?.uploadId, 'u-1');
    assert.equal(findPending(entries, { server: 'https://other', file: '/data/tool.bin', size: 100, mtimeMs: 5 }), undefined);
    assert.equal(findPending(entries, { server: 'https://fc.example', file: '/data/tool.bin', size: 101, mtimeMs: 5 }), undefined, 'the file changed size');
    assert.equal(findPending(entries, { server: 'https://fc.example', file: '/data/tool.bin', size: 100, mtimeMs: 6 }), undefined, 'the file was modified');
  });

  test('replaces the entry of the same file, drops old ones, removes a finished one', () => {
    const old = entry({ file: '/old', updatedAt: new Date(NOW - PENDING_UPLOAD_MAX_AGE_MS - 1).toISOString() });
    const replaced = withPending([entry(), old], entry({ uploadId: 'u-2' }), NOW);
    assert.deepEqual(replaced.map((e) => e.uploadId), ['u-2']);
    assert.deepEqual(withoutPending(replaced, { server: 'https://fc.example', file: '/data/tool.bin' }, NOW), []);
  });

  test('an unreadable file is no state (the upload starts over), and malformed entries are left out', () => {
    assert.deepEqual(parseUploadState('not json'), []);
    assert.deepEqual(parseUploadState('{"uploads": 3}'), []);
    assert.deepEqual(parseUploadState(JSON.stringify({ uploads: [entry(), { server: 'x' }] })), [entry()]);
  });
});
