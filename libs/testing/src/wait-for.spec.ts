import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, WaitForTimeoutError } from './wait-for';

test('waitFor returns the first truthy value, polling until it comes', async () => {
  let calls = 0;
  const value = await waitFor(() => {
    calls += 1;
    return calls >= 3 ? { ready: calls } : null;
  }, { intervalMs: 1 });
  assert.deepEqual(value, { ready: 3 });
  assert.equal(calls, 3);
});

test('waitFor awaits async predicates and treats a throw as "not yet"', async () => {
  let calls = 0;
  const value = await waitFor(async () => {
    calls += 1;
    if (calls < 3) throw new Error('connection refused');
    return 'up';
  }, { intervalMs: 1 });
  assert.equal(value, 'up');
});

test('waitFor times out with the description and the last value', async () => {
  const started = Date.now();
  await assert.rejects(
    waitFor(() => 0, { timeoutMs: 60, intervalMs: 10, description: 'the task to succeed' }),
    (error: unknown) => {
      assert.ok(error instanceof WaitForTimeoutError);
      assert.equal(error.code, 'TESTING.WAIT_TIMEOUT');
      assert.match(error.message, /^timed out after 60 ms \(\d+ attempts\) waiting for the task to succeed; last value: 0$/);
      assert.ok(error.attempts >= 2, `attempts ${error.attempts}`);
      return true;
    },
  );
  assert.ok(Date.now() - started >= 55, 'does not give up before the deadline');
});

test('waitFor names the last error and keeps it as the cause', async () => {
  const refused = new Error('ECONNREFUSED 127.0.0.1:4222');
  await assert.rejects(
    waitFor(() => {
      throw refused;
    }, { timeoutMs: 30, intervalMs: 5, description: 'NATS' }),
    (error: unknown) => {
      assert.ok(error instanceof WaitForTimeoutError);
      assert.match(error.message, /waiting for NATS; last error: Error: ECONNREFUSED 127\.0\.0\.1:4222$/);
      assert.equal(error.cause, refused);
      return true;
    },
  );
});

test('waitFor does not wait past its deadline for a predicate that never settles', async () => {
  const started = Date.now();
  await assert.rejects(
    waitFor(() => new Promise<boolean>(() => undefined), { timeoutMs: 50, description: 'a hung call' }),
    /waiting for a hung call; the last attempt had not settled/,
  );
  assert.ok(Date.now() - started < 1_000);
});

test('waitFor shortens a huge thrown non-Error so the message stays readable', async () => {
  const rows = Array.from({ length: 5_000 }, (_, i) => ({ id: i, state: 'queued' }));
  await assert.rejects(
    waitFor(() => {
      throw { rows };
    }, { timeoutMs: 1, description: 'rows' }),
    (error: unknown) => {
      assert.ok(error instanceof WaitForTimeoutError);
      assert.match(error.message, /waiting for rows; last error: \{ rows: \[/);
      assert.match(error.message, /… \(\d+ chars\)$/);
      assert.ok(error.message.length < 2_200, `message length ${error.message.length}`);
      return true;
    },
  );
});

test('waitFor stops when its signal aborts', async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('test over')), 20);
  await assert.rejects(waitFor(() => false, { timeoutMs: 5_000, intervalMs: 5, signal: controller.signal }), /test over/);
});
