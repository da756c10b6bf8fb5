import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineRingBuffer } from './line-ring-buffer';

test('ring buffer keeps the last lines, oldest first, and counts the dropped ones', () => {
  const buffer = new LineRingBuffer(3);
  for (let i = 1; i <= 7; i++) buffer.write(`line ${i}\n`);
  assert.deepEqual(buffer.lines(), ['line 5', 'line 6', 'line 7']);
  assert.equal(buffer.dropped, 4);
  assert.equal(buffer.text(), 'line 5\nline 6\nline 7');
});

test('ring buffer joins a line split across chunks and returns completed lines', () => {
  const buffer = new LineRingBuffer(10);
  assert.deepEqual(buffer.write('lis'), []);
  assert.deepEqual(buffer.write('tening on 30'), []);
  assert.deepEqual(buffer.write('00\r\nready\nhalf'), ['listening on 3000', 'ready']);
  assert.deepEqual(buffer.lines(), ['listening on 3000', 'ready', 'half']);
  assert.deepEqual(buffer.lines({ completeOnly: true }), ['listening on 3000', 'ready']);
  assert.deepEqual(buffer.end(), ['half']);
  assert.deepEqual(buffer.lines(), ['listening on 3000', 'ready', 'half']);
});

test('ring buffer keeps each source its own unfinished line', () => {
  const buffer = new LineRingBuffer(10);
  buffer.write('out: star', 'stdout');
  buffer.write('err: warn', 'stderr');
  buffer.write('ted\n', 'stdout');
  buffer.write('ing\n', 'stderr');
  assert.deepEqual(buffer.lines(), ['out: started', 'err: warning']);
});

test('ring buffer bounds a line that never ends', () => {
  const buffer = new LineRingBuffer(2, 10);
  buffer.write('a'.repeat(25));
  buffer.write('b'.repeat(25) + '\nnext\n');
  assert.deepEqual(buffer.lines(), [`${'a'.repeat(10)} [line truncated]`, 'next']);
});

test('ring buffer wraps correctly many times over', () => {
  const buffer = new LineRingBuffer(200);
  for (let i = 0; i < 1_000; i++) buffer.write(`${i}\n`);
  const lines = buffer.lines();
  assert.equal(lines.length, 200);
  assert.equal(lines[0], '800');
  assert.equal(lines[199], '999');
  buffer.clear();
  assert.deepEqual(buffer.lines(), []);
  assert.equal(buffer.dropped, 0);
});

test('ring buffer rejects a capacity it cannot honour', () => {
  assert.throws(() => new LineRingBuffer(0), RangeError);
  assert.throws(() => new LineRingBuffer(1.5), RangeError);
});
