import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { ConfigError } from '@fleetcast/service-kit';
import { loadOriginConfig } from './origin.config';

test('config: defaults when nothing is set', () => {
  assert.deepEqual(loadOriginConfig({}), {
    port: 8081,
    host: '0.0.0.0',
    storeDir: resolve('./.fleetcast/origin'),
    apiTokens: [],
    uploadTtlMs: 86_400_000,
    maxUploadBytes: 64 * 1024 ** 3,
    logLevel: 'info',
  });
});

test('config: values from the environment; blank means unset', () => {
  const config = loadOriginConfig({
    HTTP_PORT: '9000',
    HTTP_HOST: '127.0.0.1',
    ORIGIN_STORE_DIR: '/srv/origin',
    API_TOKENS: ' a , b,,',
    UPLOAD_TTL_SECONDS: '3600',
    MAX_UPLOAD_BYTES: '1000',
    LOG_LEVEL: 'warn',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
  });
  assert.deepEqual(config, {
    port: 9000,
    host: '127.0.0.1',
    storeDir: '/srv/origin',
    apiTokens: ['a', 'b'],
    uploadTtlMs: 3_600_000,
    maxUploadBytes: 1000,
    logLevel: 'warn',
    otlpEndpoint: 'http://collector:4318',
  });
  assert.equal(loadOriginConfig({ HTTP_PORT: '' }).port, 8081);
  assert.equal(loadOriginConfig({ HTTP_PORT: '0' }).port, 0);
  const blank = loadOriginConfig({ HTTP_HOST: ' ', ORIGIN_STORE_DIR: '', API_TOKENS: '', LOG_LEVEL: '', OTEL_EXPORTER_OTLP_ENDPOINT: '' });
  assert.deepEqual(blank, loadOriginConfig({}));
});

test('config: a bad value fails with a message naming the variable', () => {
  const table: Array<[Record<string, string>, RegExp]> = [
    [{ HTTP_PORT: 'http' }, /HTTP_PORT: must be a port number/],
    [{ HTTP_PORT: '70000' }, /HTTP_PORT: must be 0-65535/],
    [{ HTTP_PORT: '-1' }, /HTTP_PORT/],
    [{ HTTP_PORT: '1e3' }, /HTTP_PORT: must be a port number/],
    [{ API_TOKENS: 'has space' }, /API_TOKENS: tokens must be printable ASCII/],
    [{ UPLOAD_TTL_SECONDS: '0' }, /UPLOAD_TTL_SECONDS: must be at least 1 second/],
    [{ UPLOAD_TTL_SECONDS: 'a day' }, /UPLOAD_TTL_SECONDS: must be a whole number of seconds/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }, /OTEL_EXPORTER_OTLP_ENDPOINT/],
  ];
  for (const [env, message] of table) {
    assert.throws(() => loadOriginConfig(env), (error: unknown) => error instanceof ConfigError && message.test(error.message), JSON.stringify(env));
  }
});

test('config: variables of other services are ignored', () => {
  assert.deepEqual(loadOriginConfig({ NATS_URL: 'nats://elsewhere:4222', DATABASE_URL: 'postgres://x' }), loadOriginConfig({}));
});
