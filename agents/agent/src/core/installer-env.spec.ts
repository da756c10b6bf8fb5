import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INSTALLER_ENV_NAME, PACKAGE_PATH_ENV, installerEnvironment } from './installer-env';

const PKG = '/cache/content/abc';

const linuxAgent = {
  PATH: '/usr/bin:/bin',
  HOME: '/var/lib/fleetcast',
  USER: 'fleetcast',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
  TMPDIR: '/tmp',
  NATS_CREDS: '/etc/fleetcast/device.creds',
  FLEETCAST_TEST_SECRET: 'do-not-leak',
  FLEETCAST_ENROLL_TOKEN: 'also-secret',
  AWS_SECRET_ACCESS_KEY: 'x',
  HTTPS_PROXY: 'http://user:pass@proxy:3128',
  MARKER_FILE: '/tmp/marker',
  [PACKAGE_PATH_ENV]: '/somewhere/else',
};

const windowsAgent = {
  Path: 'C:\\Windows\\system32;C:\\Windows',
  SystemRoot: 'C:\\Windows',
  TEMP: 'C:\\Windows\\TEMP',
  'ProgramFiles(x86)': 'C:\\Program Files (x86)',
  ComSpec: 'C:\\Windows\\system32\\cmd.exe',
  USERPROFILE: 'C:\\Windows\\system32\\config\\systemprofile',
  HOME: 'C:\\not-on-windows',
  FLEETCAST_TEST_SECRET: 'do-not-leak',
  fleetcast_package_path: 'C:\\elsewhere',
};

const cases: Array<{ name: string; env: Record<string, string>; platform: string; extra?: string[]; expected: Record<string, string> }> = [
  {
    name: 'linux: PATH, home, user, locale and temp pass; secrets, credentials and proxies do not; the package path is the agent\'s',
    env: linuxAgent,
    platform: 'linux',
    expected: { PATH: '/usr/bin:/bin', HOME: '/var/lib/fleetcast', USER: 'fleetcast', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TMPDIR: '/tmp', [PACKAGE_PATH_ENV]: PKG },
  },
  {
    name: 'linux with --installer-env MARKER_FILE and HTTPS_PROXY: those pass too, nothing else',
    env: linuxAgent,
    platform: 'linux',
    extra: ['MARKER_FILE', 'HTTPS_PROXY', 'NOT_SET_ANYWHERE'],
    expected: {
      PATH: '/usr/bin:/bin',
      HOME: '/var/lib/fleetcast',
      USER: 'fleetcast',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      TMPDIR: '/tmp',
      MARKER_FILE: '/tmp/marker',
      HTTPS_PROXY: 'http://user:pass@proxy:3128',
      [PACKAGE_PATH_ENV]: PKG,
    },
  },
  {
    name: 'an extra name cannot bring in the package path from the agent\'s environment',
    env: linuxAgent,
    platform: 'darwin',
    extra: [PACKAGE_PATH_ENV],
    expected: { PATH: '/usr/bin:/bin', HOME: '/var/lib/fleetcast', USER: 'fleetcast', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TMPDIR: '/tmp', [PACKAGE_PATH_ENV]: PKG },
  },
  {
    name: 'windows: the essentials, compared without case (Path), HOME is not one of them',
    env: windowsAgent,
    platform: 'win32',
    expected: {
      Path: 'C:\\Windows\\system32;C:\\Windows',
      SystemRoot: 'C:\\Windows',
      TEMP: 'C:\\Windows\\TEMP',
      'ProgramFiles(x86)': 'C:\\Program Files (x86)',
      ComSpec: 'C:\\Windows\\system32\\cmd.exe',
      USERPROFILE: 'C:\\Windows\\system32\\config\\systemprofile',
      [PACKAGE_PATH_ENV]: PKG,
    },
  },
  { name: 'an empty environment: only the package path', env: {}, platform: 'linux', expected: { [PACKAGE_PATH_ENV]: PKG } },
];

for (const c of cases) {
  test(`installer environment: ${c.name}`, () => {
    assert.deepEqual(installerEnvironment(c.env, PKG, c.platform, c.extra), c.expected);
  });
}

test('installer environment: names accepted by --installer-env', () => {
  for (const good of ['MARKER_FILE', 'HTTPS_PROXY', 'http_proxy', '_X', 'ProgramFiles(x86)']) assert.ok(INSTALLER_ENV_NAME.test(good), good);
  for (const bad of ['', '1ABC', 'A=B', 'A B', 'PATH;rm', 'X'.repeat(129)]) assert.ok(!INSTALLER_ENV_NAME.test(bad), bad);
});
