import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@fleetcast/service-kit';
import { loadGatewayConfig } from './gateway.config';

test('defaults: port 8080, origin on 8081, 64 GiB uploads; tokens split on commas', () => {
  const config = loadGatewayConfig({ API_TOKENS: ' one, two ,,' });
  assert.equal(config.httpPort, 8080);
  assert.equal(config.originUrl, 'http://127.0.0.1:8081');
  assert.equal(config.maxUploadBytes, 64 * 1024 ** 3);
  assert.deepEqual(config.apiTokens, ['one', 'two']);
  assert.equal(config.authDisabled, false);
});

test('API_TOKENS is required unless AUTH_DISABLED=true', () => {
  assert.throws(() => loadGatewayConfig({}), (error: unknown) => error instanceof ConfigError && /API_TOKENS: .*AUTH_DISABLED=true/.test(error.message));
  assert.throws(() => loadGatewayConfig({ API_TOKENS: ' , ' }), ConfigError);
  const open = loadGatewayConfig({ AUTH_DISABLED: 'true' });
  assert.equal(open.authDisabled, true);
  assert.deepEqual(open.apiTokens, []);
});

test('bad values are named', () => {
  assert.throws(() => loadGatewayConfig({ API_TOKENS: 'a', HTTP_PORT: 'http' }), /HTTP_PORT/);
  assert.throws(() => loadGatewayConfig({ API_TOKENS: 'a', MAX_UPLOAD_BYTES: '-1' }), /MAX_UPLOAD_BYTES/);
  assert.throws(() => loadGatewayConfig({ API_TOKENS: 'a', ORIGIN_URL: 'not a url' }), /ORIGIN_URL/);
  assert.throws(() => loadGatewayConfig({ API_TOKENS: 'ok,b\u00e4d' }), /API_TOKENS: token 2/);
});

test('a trailing slash on ORIGIN_URL is dropped', () => {
  assert.equal(loadGatewayConfig({ API_TOKENS: 'a', ORIGIN_URL: 'http://origin:8081/' }).originUrl, 'http://origin:8081');
});
