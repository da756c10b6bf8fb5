import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Response } from 'express';
import { SseClient } from './sse-client';

/** A response whose socket buffer "fills" after `room` writes, as a slow client's does. */
class SlowResponse extends EventEmitter {
  readonly written: string[] = [];
  constructor(public room: number) {
    super();
  }
  write(chunk: string): boolean {
    this.written.push(chunk);
    return this.written.length < this.room;
  }
}

const events = (res: SlowResponse) => res.written.map((w) => /event: (\w+)\ndata: (.*)\n/.exec(w)!).map((m) => [m[1], JSON.parse(m[2]!)]);

test('a slow client: once a write is refused, events wait coalesced until drain, then go out in order', () => {
  const res = new SlowResponse(2);
  const client = new SseClient(res as unknown as Response);
  client.send({ key: 'task:t', event: 'task', data: 1 });
  client.send({ key: 'task:t', event: 'task', data: 2 }); // the socket refuses from here
  assert.equal(client.waiting, true);
  client.send({ key: 'device:t/a', event: 'device', data: 'a1' });
  client.send({ key: 'task:t', event: 'task', data: 3 });
  client.send({ key: 'device:t/a', event: 'device', data: 'a2' });
  assert.equal(res.written.length, 2, 'nothing written while blocked');
  res.room = 100;
  res.emit('drain');
  assert.deepEqual(events(res), [['task', 1], ['task', 2], ['task', 3], ['device', 'a2']]);
  assert.equal(client.waiting, false);
});

test('a client that stays slow past the bound is told to resync first; a closed one is written nothing', () => {
  const res = new SlowResponse(1);
  const client = new SseClient(res as unknown as Response);
  client.send({ key: 'x', event: 'task', data: 0 });
  for (let i = 0; i < 20_005; i++) client.send({ key: `device:t/${i}`, event: 'device', data: i });
  res.room = Infinity;
  res.emit('drain');
  const [first, second] = events(res).slice(1);
  assert.equal(first![0], 'resync');
  assert.equal(first![1].lost, 5);
  assert.deepEqual(second, ['device', 5], 'the oldest were the ones dropped');
  const before = res.written.length;
  res.emit('close');
  client.send({ key: 'task:t', event: 'task', data: 9 });
  assert.equal(res.written.length, before);
});
