import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser } from './sse-parser';

test('events split across chunks are put together; retry lines and comments skipped', () => {
  const p = new SseParser();
  assert.deepEqual(p.push('retry: 3000\n\nid: 1\nevent: snap'), []);
  assert.deepEqual(p.push('shot\ndata: {"a":1}\n\n: keep-alive\n\nid: 2\r\nevent: task\r\ndata: {"b":'), [{ event: 'snapshot', data: '{"a":1}', id: '1' }]);
  assert.deepEqual(p.push('2}\r\n\r\n'), [{ event: 'task', data: '{"b":2}', id: '2' }]);
});

test('several data lines join with a newline; an event without a name is a message', () => {
  assert.deepEqual(new SseParser().push('data: one\ndata:two\n\n'), [{ event: 'message', data: 'one\ntwo' }]);
});
