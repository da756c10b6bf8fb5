import { test } from 'node:test';
import assert from 'node:assert/strict';
import { whileJetStreamSettles } from './jetstream-setup';

test('a JetStream step is tried again while the cluster settles, then succeeds', async () => {
  const answers = [new Error('TIMEOUT'), new Error('503'), new Error('insufficient resources'), 'ok'];
  let calls = 0;
  const value = await whileJetStreamSettles('stream X', async () => {
    const answer = answers[calls++];
    if (answer instanceof Error) throw answer;
    return answer;
  });
  assert.equal(value, 'ok');
  assert.equal(calls, 4);
});

test('any other error is thrown at once, named by the step', async () => {
  let calls = 0;
  await assert.rejects(
    whileJetStreamSettles('stream X', async () => {
      calls++;
      throw new Error('subjects overlap with an existing stream');
    }),
    /^Error: stream X: subjects overlap with an existing stream$/,
  );
  assert.equal(calls, 1);
});

test('a cluster that never settles is given up on at the deadline, saying so', async () => {
  let calls = 0;
  await assert.rejects(
    whileJetStreamSettles(
      'consumer Y',
      async () => {
        calls++;
        throw new Error('no suitable peers for placement');
      },
      600,
    ),
    /consumer Y: no suitable peers for placement \(after \d+ attempts while JetStream settled\)/,
  );
  assert.ok(calls >= 2);
});
