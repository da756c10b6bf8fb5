import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../errors';
import { createPackageRequest, createTaskRequest, parseIntOption, parseSecondsOption } from './requests';

describe('createPackageRequest', () => {
  const base = { name: 'tool', version: '1.0', platform: 'linux', installCommand: '/bin/sh' };

  test('maps the options to the API body, arguments in order', () => {
    assert.deepEqual(createPackageRequest({ ...base, arg: ['-c', 'echo hi'], successExitCode: [0, 3010], timeoutSeconds: 60 }), {
      name: 'tool',
      version: '1.0',
      platform: 'linux',
      installCommand: '/bin/sh',
      installArgs: ['-c', 'echo hi'],
      successExitCodes: [0, 3010],
      timeoutSeconds: 60,
    });
  });

  test('asks for a confidential package with --confidential only', () => {
    assert.deepEqual(createPackageRequest({ ...base, confidential: true }), { ...base, installArgs: [], confidential: true });
    assert.equal('confidential' in createPackageRequest({ ...base, confidential: false }), false);
  });

  test("leaves the server's defaults alone when not given", () => {
    assert.deepEqual(createPackageRequest(base), { ...base, installArgs: [] });
  });

  test('names every missing option at once', () => {
    assert.throws(() => createPackageRequest({ name: 'tool' }), (e: Error) => e instanceof UsageError && /--version, --platform, --install-command/.test(e.message));
  });

  test('refuses an unknown platform', () => {
    assert.throws(() => createPackageRequest({ ...base, platform: 'solaris' }), /--platform must be one of windows, macos, linux/);
  });
});

describe('createTaskRequest', () => {
  test('explicit devices', () => {
    assert.deepEqual(createTaskRequest({ package: 'pkg-1', action: 'install', device: ['a', 'b'], profile: 'p-1' }), {
      packageId: 'pkg-1',
      action: 'install',
      targets: { deviceIds: ['a', 'b'] },
      profileId: 'p-1',
    });
  });

  test('an inventory query from its options', () => {
    assert.deepEqual(createTaskRequest({ package: 'pkg-1', action: 'cache-only', platform: 'windows', subnet: '10.1.2.0/24', hostnamePrefix: 'kiosk-', includeStale: true }), {
      packageId: 'pkg-1',
      action: 'cache-only',
      targets: { query: { platform: 'windows', subnet: '10.1.2.0/24', hostnamePrefix: 'kiosk-', includeStale: true } },
    });
  });

  test('a start time is sent in UTC', () => {
    const request = createTaskRequest({ package: 'p', action: 'install', device: ['a'], startAt: '2025-06-01T22:00:00+02:00' });
    assert.equal(request.startAt, '2025-06-01T20:00:00.000Z');
  });

  const refusals: Array<[string, Parameters<typeof createTaskRequest>[0], RegExp]> = [
    ['no package', { action: 'install', device: ['a'] }, /--package/],
    ['no action', { package: 'p', device: ['a'] }, /--action/],
    ['a bad action', { package: 'p', action: 'remove', device: ['a'] }, /--action must be one of install, cache-only/],
    ['no targets', { package: 'p', action: 'install' }, /needs targets/],
    ['devices and a query', { package: 'p', action: 'install', device: ['a'], subnet: '10.0.0.0/8' }, /not both/],
    ['include-stale alone is a query', { package: 'p', action: 'install', device: ['a'], includeStale: true }, /not both/],
    ['a bad start time', { package: 'p', action: 'install', device: ['a'], startAt: 'tonight' }, /not a date/],
  ];
  for (const [name, options, message] of refusals) {
    test(`refuses ${name} as a usage error`, () => {
      assert.throws(() => createTaskRequest(options), (e: Error) => e instanceof UsageError && e.exitCode === 2 && message.test(e.message));
    });
  }
});

describe('option parsers', () => {
  test('whole numbers within bounds', () => {
    const limit = parseIntOption('--limit', 1, 1000);
    assert.equal(limit('50'), 50);
    for (const bad of ['0', '1001', '1.5', 'ten', '']) assert.throws(() => limit(bad), /--limit must be a whole number from 1 to 1000/);
  });

  test('seconds with fractions', () => {
    const interval = parseSecondsOption('--interval', 0.1);
    assert.equal(interval('0.5'), 0.5);
    for (const bad of ['0', 'soon', '']) assert.throws(() => interval(bad), /--interval must be a number of seconds/);
  });
});
