import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OUTPUT_TAIL_MAX_CHARS } from '@fleetcast/contracts';
import { OutputTail } from './output-tail';

test('output tail keeps everything while short', () => {
  const tail = new OutputTail(10);
  tail.append('abc');
  tail.append('def');
  assert.equal(tail.toString(), 'abcdef');
  assert.equal(tail.truncated, false);
});

test('output tail keeps the last characters across pieces of any size', () => {
  const cases: Array<[pieces: string[], expected: string]> = [
    [['0123456789', 'ab'], '23456789ab'],
    [['abcdefghijklmnopqrstuvwxyz'], 'qrstuvwxyz'],
    [['12345', '67890', 'X'], '234567890X'],
    [['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k'], 'bcdefghijk'],
  ];
  for (const [pieces, expected] of cases) {
    const tail = new OutputTail(10);
    for (const p of pieces) tail.append(p);
    assert.equal(tail.toString(), expected, pieces.join('|'));
    assert.equal(tail.totalChars, pieces.join('').length);
  }
});

test('output tail defaults to the contract limit and stays bounded over a large output', () => {
  const tail = new OutputTail();
  for (let i = 0; i < 10_000; i++) tail.append(`line ${i}\n`);
  const text = tail.toString();
  assert.equal(text.length, OUTPUT_TAIL_MAX_CHARS);
  assert.ok(text.endsWith('line 9999\n'));
  assert.equal(tail.truncated, true);
});

test('output tail never starts with half a surrogate pair', () => {
  const tail = new OutputTail(3);
  tail.append('x\u{1F600}ab'); // x, two UTF-16 units of the emoji, a, b: the cut falls inside the pair
  assert.equal(tail.toString(), 'ab');
  const whole = new OutputTail(4);
  whole.append('x\u{1F600}ab');
  assert.equal(whole.toString(), '\u{1F600}ab');
});

test('output tail of size 0 keeps nothing', () => {
  const tail = new OutputTail(0);
  tail.append('anything');
  assert.equal(tail.toString(), '');
});
