import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { signWebhook, verifyWebhook, webhookSignature } from './webhook-signature';

const SECRET = 'whsec_test';
const BODY = '{"id":"d-1","type":"task.completed","data":{}}';
const T = 1_764_763_200;

test('webhook signature: HMAC-SHA256 of "<t>.<body>" in hex, computed independently', () => {
  const expected = createHmac('sha256', SECRET).update(`${T}.${BODY}`).digest('hex');
  assert.equal(webhookSignature(SECRET, T, BODY), expected);
  assert.equal(signWebhook(SECRET, BODY, T), `t=${T},v1=${expected}`);
  assert.equal(webhookSignature(SECRET, T, Buffer.from(BODY)), expected, 'bytes and string agree');
});

test('webhook signature: a genuine delivery verifies; every kind of bad one is refused with its reason', () => {
  const header = signWebhook(SECRET, BODY, T);
  assert.deepEqual(verifyWebhook({ secret: SECRET, header, body: BODY, now: T + 10 }), { ok: true, timestamp: T });
  const cases: Array<[string, Parameters<typeof verifyWebhook>[0], RegExp]> = [
    ['no header', { secret: SECRET, header: undefined, body: BODY, now: T }, /no fleetcast-signature header/],
    ['stale', { secret: SECRET, header, body: BODY, now: T + 301 }, /beyond the 300 s tolerance/],
    ['from the future', { secret: SECRET, header, body: BODY, now: T - 301 }, /beyond/],
    ['another secret', { secret: 'other', header, body: BODY, now: T }, /no signature matches/],
    ['body changed', { secret: SECRET, header, body: BODY.replace('d-1', 'd-2'), now: T }, /no signature matches/],
    ['timestamp changed', { secret: SECRET, header: header.replace(`t=${T}`, `t=${T + 1}`), body: BODY, now: T }, /no signature matches/],
    ['no timestamp', { secret: SECRET, header: header.replace(/t=\d+,/, ''), body: BODY, now: T }, /no timestamp/],
    ['no v1', { secret: SECRET, header: `t=${T},v0=abc`, body: BODY, now: T }, /no v1 signature/],
  ];
  for (const [name, options, reason] of cases) {
    const result = verifyWebhook(options);
    assert.equal(result.ok, false, name);
    assert.match(!result.ok ? result.reason : '', reason, name);
  }
});

test('webhook signature: during a rotation the header carries both, and a receiver with either secret accepts', () => {
  const header = signWebhook(['new', 'old'], BODY, T);
  assert.equal(header.split(',').length, 3);
  assert.ok(verifyWebhook({ secret: 'old', header, body: BODY, now: T }).ok);
  assert.ok(verifyWebhook({ secret: ['new'], header, body: BODY, now: T }).ok);
  assert.equal(verifyWebhook({ secret: 'neither', header, body: BODY, now: T }).ok, false);
});
