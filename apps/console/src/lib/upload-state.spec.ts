import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Package } from '@fleetcast/contracts';
import { idleUpload, isUploadBusy, reduceUpload, UploadEvent, UploadState, uploadPercent } from './upload-state';

const pkg = { id: 'p1', status: 'ready' } as Package;
const run = (events: UploadEvent[], from: UploadState = idleUpload) => events.reduce(reduceUpload, from);

test('create, send with progress, process, done: the bar goes 0 → 100', () => {
  const uploading = run([{ type: 'start', fileName: 'a.bin', total: 1000 }, { type: 'created', packageId: 'p1' }]);
  assert.equal(uploadPercent(uploading), 0);
  const half = run([{ type: 'progress', loaded: 500, total: 1000 }], uploading);
  assert.equal(uploadPercent(half), 50);
  assert.equal(isUploadBusy(half), true);
  // A late, smaller figure does not move the bar back.
  assert.equal(uploadPercent(run([{ type: 'progress', loaded: 400, total: 1000 }], half)), 50);
  const sent = run([{ type: 'progress', loaded: 1000, total: 1000 }, { type: 'sent' }], half);
  assert.equal(sent.phase, 'processing');
  assert.equal(uploadPercent(sent), 100);
  const done = run([{ type: 'done', pkg }], sent);
  assert.deepEqual(done, { phase: 'done', fileName: 'a.bin', pkg });
  assert.equal(isUploadBusy(done), false);
});

test('a failure keeps the package ID when there is one; events out of turn change nothing', () => {
  const failed = run([{ type: 'start', fileName: 'a.bin', total: 10 }, { type: 'created', packageId: 'p1' }, { type: 'failed', message: 'ORIGIN.HASH_MISMATCH' }]);
  assert.deepEqual(failed, { phase: 'failed', fileName: 'a.bin', message: 'ORIGIN.HASH_MISMATCH', packageId: 'p1' });
  const failedEarly = run([{ type: 'start', fileName: 'a.bin', total: 10 }, { type: 'failed', message: '403' }]);
  assert.equal(failedEarly.phase === 'failed' && failedEarly.packageId, null);
  assert.equal(run([{ type: 'progress', loaded: 5, total: 10 }]), idleUpload);
  assert.equal(run([{ type: 'done', pkg }]), idleUpload);
  assert.equal(uploadPercent(failed), 0);
});
