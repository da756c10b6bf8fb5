import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventQueue, formatSse } from './event-queue';

test('a newer event of a key replaces the older one and goes to the end', () => {
  const q = new EventQueue(10);
  q.push({ key: 'device:t/a', event: 'device', data: { state: 'queued' } });
  q.push({ key: 'task:t', event: 'task', data: { n: 1 } });
  q.push({ key: 'device:t/a', event: 'device', data: { state: 'downloading' } });
  const { items, lost } = q.take();
  assert.deepEqual(items.map((i) => [i.key, i.data]), [['task:t', { n: 1 }], ['device:t/a', { state: 'downloading' }]]);
  assert.equal(lost, 0);
  assert.equal(q.size, 0, 'empty after take');
});

test('past its bound the queue drops the oldest keys and counts them until taken', () => {
  const q = new EventQueue(2);
  for (const d of ['a', 'b', 'c', 'd']) q.push({ key: `device:t/${d}`, event: 'device', data: d });
  assert.equal(q.size, 2);
  assert.equal(q.lost, 2);
  const { items, lost } = q.take();
  assert.deepEqual(items.map((i) => i.data), ['c', 'd']);
  assert.equal(lost, 2);
  assert.equal(q.lost, 0, 'the count starts again');
  assert.throws(() => new EventQueue(0), /maxKeys/);
});

test('an SSE frame: optional id, event name, JSON data on one line, blank line', () => {
  assert.equal(formatSse('task', { a: 'x\ny' }, 7), 'id: 7\nevent: task\ndata: {"a":"x\\ny"}\n\n');
  assert.equal(formatSse('heartbeat', { at: 't' }), 'event: heartbeat\ndata: {"at":"t"}\n\n');
});
