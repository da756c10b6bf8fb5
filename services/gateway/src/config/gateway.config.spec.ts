import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ConfigError } from '@fleetcast/service-kit';
import { loadGatewayConfig } from './gateway.config';

const sha = (token: string) => createHash('sha256').update(token).digest('hex');
const OPS = `ops:operator:sha256:${sha('ops-token')}`;

test('defaults: port 8080, origin on 8081, 64 GiB uploads; token entries split on commas', () => {
  const config = loadGatewayConfig({ API_TOKENS: ` ${OPS}, two ,,` });
  assert.equal(config.httpPort, 8080);
  assert.equal(config.originUrl, 'http://127.0.0.1:8081');
  assert.equal(config.originApiToken, undefined);
  assert.equal(config.maxUploadBytes, 64 * 1024 ** 3);
  assert.deepEqual(
    config.apiTokens.map((t) => [t.name, t.scope, t.storedInClear]),
    [
      ['ops', 'operator', false],
      ['plaintext-2', 'admin', true],
    ],
  );
  assert.equal(config.authDisabled, false);
});

test('API_TOKENS is required unless AUTH_DISABLED=true', () => {
  assert.throws(() => loadGatewayConfig({}), (error: unknown) => error instanceof ConfigError && /API_TOKENS: .*AUTH_DISABLED=true/.test(error.message));
  assert.throws(() => loadGatewayConfig({ API_TOKENS: ' , ' }), ConfigError);
  const open = loadGatewayConfig({ AUTH_DISABLED: 'true' });
  assert.equal(open.authDisabled, true);
  assert.deepEqual(open.apiTokens, []);
});

test('bad values are named, and a bad token entry by its position only', () => {
  assert.throws(() => loadGatewayConfig({ API_TOKENS: 'a', HTTP_PORT: 'http' }), /HTTP_PORT/);
  assert.throws(() => loadGatewayConfig({ API_TOKENS: 'a', MAX_UPLOAD_BYTES: '-1' }), /MAX_UPLOAD_BYTES/);
  assert.throws(() => loadGatewayConfig({ API_TOKENS: 'a', ORIGIN_URL: 'not a url' }), /ORIGIN_URL/);
  assert.throws(() => loadGatewayConfig({ API_TOKENS: 'a', ORIGIN_API_TOKEN: 'has space' }), /ORIGIN_API_TOKEN/);
  assert.throws(() => loadGatewayConfig({ API_TOKENS: 'ok,b\u00e4d' }), /API_TOKENS: entry 2/);
  assert.throws(
    () => loadGatewayConfig({ API_TOKENS: `${OPS},ci:reader:sha256:${sha('x')}` }),
    (error: unknown) => error instanceof ConfigError && /API_TOKENS: entry 2: the scope must be/.test(error.message) && !error.message.includes(sha('x')),
  );
});

test('a trailing slash on ORIGIN_URL is dropped; ORIGIN_API_TOKEN is taken as given', () => {
  const config = loadGatewayConfig({ API_TOKENS: OPS, ORIGIN_URL: 'http://origin:8081/', ORIGIN_API_TOKEN: 'origin-secret' });
  assert.equal(config.originUrl, 'http://origin:8081');
  assert.equal(config.originApiToken, 'origin-secret');
});
