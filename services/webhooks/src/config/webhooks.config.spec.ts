import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadWebhooksConfig } from './webhooks.config';

test('webhooks config: defaults, allowed networks parsed, a bad CIDR named', () => {
  const config = loadWebhooksConfig({});
  assert.equal(config.HTTP_PORT, 3005);
  assert.equal(config.WEBHOOK_ALLOWED_NETWORKS.length, 0);
  assert.equal(config.WEBHOOK_TIMEOUT_MS, 10_000);
  assert.equal(loadWebhooksConfig({ WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8,::1/128' }).WEBHOOK_ALLOWED_NETWORKS.length, 2);
  assert.throws(() => loadWebhooksConfig({ WEBHOOK_ALLOWED_NETWORKS: 'localhost' }), /WEBHOOK_ALLOWED_NETWORKS.*"localhost" is not a CIDR/s);
  assert.throws(() => loadWebhooksConfig({ WEBHOOK_TIMEOUT_MS: '5' }), /WEBHOOK_TIMEOUT_MS/);
});
