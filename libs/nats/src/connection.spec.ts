import { test } from 'node:test';
import assert from 'node:assert/strict';
import { natsServers } from './connection';

test('a NATS_URL names one server or a cluster of them', () => {
  const cases: Array<[string | string[], string[]]> = [
    ['nats://127.0.0.1:4222', ['nats://127.0.0.1:4222']],
    ['nats://n1:4222,nats://n2:4222, nats://n3:4222', ['nats://n1:4222', 'nats://n2:4222', 'nats://n3:4222']],
    ['nats://n1:4222,,', ['nats://n1:4222']],
    [['nats://n1:4222', 'nats://n2:4222,nats://n3:4222'], ['nats://n1:4222', 'nats://n2:4222', 'nats://n3:4222']],
  ];
  for (const [given, expected] of cases) assert.deepEqual(natsServers(given), expected, String(given));
});

test('an empty server list is a configuration mistake, named as such', () => {
  assert.throws(() => natsServers(' , '), /no NATS server given/);
  assert.throws(() => natsServers([]), /no NATS server given/);
});
