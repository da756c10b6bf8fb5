import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RESEND_POLICY, nextResendAt, resendDelaysSeconds, ResendPolicy } from './assignment-resend';

const cases: Array<{ name: string; policy: ResendPolicy; delays: number[] }> = [
  { name: 'the defaults: 60 s doubling to an hour, 8 resends in about 3 hours', policy: DEFAULT_RESEND_POLICY, delays: [60, 120, 240, 480, 960, 1920, 3600, 3600] },
  { name: 'no resends at all', policy: { firstDelaySeconds: 60, maxDelaySeconds: 60, maxResends: 0 }, delays: [] },
  { name: 'a flat schedule when the cap is the first delay', policy: { firstDelaySeconds: 30, maxDelaySeconds: 30, maxResends: 4 }, delays: [30, 30, 30, 30] },
  { name: 'a cap that is not a power-of-two multiple is still reached, never passed', policy: { firstDelaySeconds: 1, maxDelaySeconds: 5, maxResends: 5 }, delays: [1, 2, 4, 5, 5] },
  { name: 'many resends: the exponent is clamped, the delays stay at the cap', policy: { firstDelaySeconds: 1, maxDelaySeconds: 86_400, maxResends: 40 }, delays: [...[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536], ...Array(23).fill(86_400)] },
];

for (const c of cases) {
  test(`resend schedule: ${c.name}`, () => {
    assert.deepEqual(resendDelaysSeconds(c.policy), c.delays);
  });
}

test('resend schedule: the gaps never shrink and the total is bounded by resends x cap', () => {
  for (const c of cases) {
    const delays = resendDelaysSeconds(c.policy);
    for (let i = 1; i < delays.length; i++) assert.ok(delays[i]! >= delays[i - 1]!, `${c.name}: gap ${i}`);
    assert.ok(delays.reduce((a, b) => a + b, 0) <= c.policy.maxResends * c.policy.maxDelaySeconds);
  }
});

test('next resend: after the first copy, after the n-th resend, none after the last', () => {
  const sent = new Date('2026-01-01T00:00:00Z');
  const at = (resends: number) => nextResendAt(sent, resends, DEFAULT_RESEND_POLICY)?.toISOString() ?? null;
  assert.equal(at(0), '2026-01-01T00:01:00.000Z');
  assert.equal(at(2), '2026-01-01T00:04:00.000Z');
  assert.equal(at(7), '2026-01-01T01:00:00.000Z');
  assert.equal(at(8), null);
  assert.equal(at(100), null);
});

test('resend schedule: nonsense policies are refused, naming the field', () => {
  for (const [policy, field] of [
    [{ firstDelaySeconds: 0, maxDelaySeconds: 60, maxResends: 1 }, 'firstDelaySeconds'],
    [{ firstDelaySeconds: 1.5, maxDelaySeconds: 60, maxResends: 1 }, 'firstDelaySeconds'],
    [{ firstDelaySeconds: 60, maxDelaySeconds: 30, maxResends: 1 }, 'maxDelaySeconds'],
    [{ firstDelaySeconds: 60, maxDelaySeconds: 60, maxResends: -1 }, 'maxResends'],
  ] as const) {
    assert.throws(() => resendDelaysSeconds(policy), (e: unknown) => e instanceof RangeError && e.message.startsWith(field), JSON.stringify(policy));
  }
});
