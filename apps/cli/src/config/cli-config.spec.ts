import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configPathOf, normalizeServer, parseStoredConfig, resolveConnection } from './cli-config';
import { readConfigFile, writeConfigFile } from './config-file';

describe('cli config', () => {
  test('the config path: --config, then XDG_CONFIG_HOME, then ~/.config', () => {
    assert.equal(configPathOf('/tmp/c.json', { XDG_CONFIG_HOME: '/x' }, '/home/a'), '/tmp/c.json');
    assert.equal(configPathOf(undefined, { XDG_CONFIG_HOME: '/x' }, '/home/a'), '/x/fleetcast/config.json');
    assert.equal(configPathOf(undefined, {}, '/home/a'), '/home/a/.config/fleetcast/config.json');
    // The XDG spec: a relative XDG_CONFIG_HOME is invalid and ignored.
    assert.equal(configPathOf(undefined, { XDG_CONFIG_HOME: 'rel', HOME: '/home/b' }, '/home/a'), '/home/b/.config/fleetcast/config.json');
  });

  test('server URLs: http(s) only, no credentials, no trailing slash', () => {
    assert.equal(normalizeServer('https://fc.example.com/'), 'https://fc.example.com');
    assert.equal(normalizeServer('http://127.0.0.1:8080'), 'http://127.0.0.1:8080');
    assert.throws(() => normalizeServer('fc.example.com'), /not a URL/);
    assert.throws(() => normalizeServer('ftp://fc.example.com'), /http or https/);
    assert.throws(() => normalizeServer('https://u:p@fc.example.com'), /credentials/);
  });

  test('the environment overrides the file, each value on its own', () => {
    const stored = { server: 'https://a.example', token: 'file-token' };
    assert.deepEqual(resolveConnection(stored, {}, 'c'), { server: 'https://a.example', token: 'file-token', source: { server: 'config', token: 'config' } });
    assert.deepEqual(resolveConnection(stored, { FLEETCAST_TOKEN: 'env-token' }, 'c'), { server: 'https://a.example', token: 'env-token', source: { server: 'config', token: 'env' } });
    assert.equal(resolveConnection(undefined, { FLEETCAST_SERVER: 'http://b.example/', FLEETCAST_TOKEN: 't' }, 'c').server, 'http://b.example');
    assert.throws(() => resolveConnection({ server: 'https://a.example' }, {}, '/p/config.json'), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /no token configured \(\/p\/config\.json\)/.test(e.message));
  });

  test('a damaged file is named', () => {
    assert.throws(() => parseStoredConfig('{', '/p/config.json'), /\/p\/config\.json is not JSON: run fleetcast login again/);
    assert.deepEqual(parseStoredConfig('{"server":"s","token":7}', 'p'), { server: 's' });
  });

  test('written with mode 0600 in a 0700 directory, also over a looser existing file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetcast-cli-config-'));
    try {
      const path = join(dir, 'fleetcast', 'config.json');
      assert.equal(await readConfigFile(path), undefined);
      await writeConfigFile(path, { server: 'https://a.example', token: 't1' });
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.equal((await stat(join(dir, 'fleetcast'))).mode & 0o777, 0o700);
      await chmod(path, 0o644);
      await writeConfigFile(path, { server: 'https://a.example', token: 't2' });
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), { server: 'https://a.example', token: 't2' });
      assert.deepEqual(await readConfigFile(path), { server: 'https://a.example', token: 't2' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
