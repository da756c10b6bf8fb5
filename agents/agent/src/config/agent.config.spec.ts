import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentConfigError, resolveAgentConfig } from './agent.config';

test('tracing is off unless an OTLP endpoint is configured', () => {
  assert.equal(resolveAgentConfig({}, {}).otlpEndpoint, undefined);
  // Compose passes the variable through even when the operator left it unset.
  assert.equal(resolveAgentConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: '' }).otlpEndpoint, undefined);
});

test('the OTLP endpoint comes from the standard variable, and the command line or config file wins over it', () => {
  assert.equal(resolveAgentConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).otlpEndpoint, 'http://collector:4318');
  assert.equal(
    resolveAgentConfig({ otlpEndpoint: 'http://local:4318' }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).otlpEndpoint,
    'http://local:4318',
  );
});

test('an OTLP endpoint that is not a URL is refused, naming the key', () => {
  assert.throws(() => resolveAgentConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector' }), (error: unknown) => error instanceof AgentConfigError && /otlpEndpoint/.test(error.message));
});
