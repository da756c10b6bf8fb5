import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../errors';
import { PlanOptions, planRequest, wanSavingsQuery } from './plans.command';

describe('planRequest', () => {
  const cases: Array<{ name: string; options: PlanOptions; want: unknown }> = [
    { name: 'comma-separated and repeated targets, with --device', options: { package: 'p', targets: ['a,b', 'c'], device: ['d'] }, want: { packageId: 'p', targets: { deviceIds: ['a', 'b', 'c', 'd'] } } },
    {
      name: 'a query, a profile and settings to plan with',
      options: { package: 'p', subnet: '10.1.2.0/24', platform: 'linux', includeStale: true, profile: 'prof-1', multicast: false, startDelaySeconds: 0, lanRateKbps: 8000, defaultWanKbps: 20000 },
      want: {
        packageId: 'p',
        targets: { query: { platform: 'linux', subnet: '10.1.2.0/24', includeStale: true } },
        profileId: 'prof-1',
        settings: { useMulticast: false, sessionStartDelaySeconds: 0, lanRateLimitKbps: 8000 },
        defaultWanBandwidthKbps: 20000,
      },
    },
    { name: "commander's default of --no-multicast (true) sends no setting", options: { package: 'p', targets: ['a'], multicast: true }, want: { packageId: 'p', targets: { deviceIds: ['a'] } } },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(planRequest(c.options), c.want));

  const refusals: Array<[string, PlanOptions, RegExp]> = [
    ['no package', { targets: ['a'] }, /--package/],
    ['no targets', { package: 'p' }, /needs targets/],
    ['empty targets', { package: 'p', targets: [' , '] }, /needs targets/],
    ['devices and a query', { package: 'p', targets: ['a'], subnet: '10.0.0.0/24' }, /not both/],
    ['a bad platform', { package: 'p', platform: 'solaris' }, /--platform must be one of/],
  ];
  for (const [name, options, message] of refusals) {
    test(`refuses ${name}`, () => assert.throws(() => planRequest(options), (e: Error) => e instanceof UsageError && message.test(e.message)));
  }
});

describe('wanSavingsQuery', () => {
  const now = Date.parse('2026-12-03T10:00:00Z');
  test('the last 30 days by subnet when nothing is given', () => {
    assert.deepEqual(wanSavingsQuery({}, now), { from: '2026-11-03T10:00:00.000Z', to: '2026-12-03T10:00:00.000Z', groupBy: 'subnet' });
  });
  test('dates as given, in UTC', () => {
    assert.deepEqual(wanSavingsQuery({ from: '2026-11-01', to: '2026-12-01T02:00:00+02:00', groupBy: 'office' }, now), { from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z', groupBy: 'office' });
  });
  const refusals: Array<[string, Parameters<typeof wanSavingsQuery>[0], RegExp]> = [
    ['a date that is none', { from: 'last week' }, /--from "last week" is not a date/],
    ['a range backwards', { from: '2026-12-02', to: '2026-12-01' }, /--from .* must be before --to/],
    ['an unknown grouping', { groupBy: 'city' }, /--group-by must be subnet or office/],
  ];
  for (const [name, options, message] of refusals) test(`refuses ${name}`, () => assert.throws(() => wanSavingsQuery(options, now), message));
});
