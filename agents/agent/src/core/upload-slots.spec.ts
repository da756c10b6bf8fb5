import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UploadSlots } from './upload-slots';

test('UploadSlots: at most max run, at most maxWaiting wait, the rest are refused at once', async () => {
  const slots = new UploadSlots(2, 1);
  const a = await slots.acquire();
  const b = await slots.acquire();
  assert.ok(a && b);
  let cGranted = false;
  const c = slots.acquire().then((release) => {
    cGranted = true;
    return release;
  });
  assert.equal(await slots.acquire(), null, 'queue full: refused');
  assert.equal(slots.active, 2);
  assert.equal(slots.queued, 1);
  await Promise.resolve();
  assert.equal(cGranted, false);
  a();
  const releaseC = await c;
  assert.ok(releaseC);
  assert.equal(slots.active, 2, 'the slot passed to the waiter');
  assert.equal(slots.queued, 0);
  a(); // a second release of the same slot is ignored
  assert.equal(slots.active, 2);
  b();
  releaseC();
  assert.equal(slots.active, 0);
});

test('UploadSlots: rejects nonsense limits', () => {
  assert.throws(() => new UploadSlots(0, 1), RangeError);
  assert.throws(() => new UploadSlots(1, -1), RangeError);
});
