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

test('multicast is on by default; its group, port, weight and interface are checked once', () => {
  const defaults = resolveAgentConfig({}, {});
  assert.equal(defaults.multicast, true);
  assert.equal(resolveAgentConfig({ multicast: false }, {}).multicast, false);
  assert.equal(defaults.multicastGroup, '239.255.70.67');
  assert.equal(defaults.multicastPort, 47470);
  assert.equal(defaults.representativeWeight, 1);
  assert.equal(defaults.lanInterface, undefined);
  const on = resolveAgentConfig({ multicast: true, representativeWeight: 0, lanInterface: '127.0.0.1', multicastGroup: '239.1.2.3', multicastPort: 40000 }, {});
  assert.deepEqual([on.multicast, on.representativeWeight, on.lanInterface, on.multicastGroup, on.multicastPort], [true, 0, '127.0.0.1', '239.1.2.3', 40000]);
  for (const bad of [{ representativeWeight: 256 }, { multicastGroup: '10.0.0.1' }, { lanInterface: 'eth0' }, { multicastPort: 0 }]) {
    assert.throws(() => resolveAgentConfig(bad, {}), (error: unknown) => error instanceof AgentConfigError && new RegExp(Object.keys(bad)[0]!).test(error.message), JSON.stringify(bad));
  }
});

test('blocked tasks, the spool and the installer environment: defaults, and bad values refused naming the key', () => {
  const defaults = resolveAgentConfig({}, {});
  assert.equal(defaults.blockedFailAfterSeconds, 600);
  assert.deepEqual([defaults.spoolMaxFiles, defaults.spoolMaxBytes], [1000, 16 * 1024 * 1024]);
  assert.deepEqual(defaults.installerEnv, []);
  const set = resolveAgentConfig({ blockedFailAfterSeconds: 0, installerEnv: ['MARKER_FILE', 'HTTPS_PROXY'], spoolMaxFiles: 50 }, {});
  assert.deepEqual([set.blockedFailAfterSeconds, set.installerEnv, set.spoolMaxFiles], [0, ['MARKER_FILE', 'HTTPS_PROXY'], 50]);
  for (const bad of [{ blockedFailAfterSeconds: -1 }, { installerEnv: ['A=B'] }, { installerEnv: ['has space'] }, { spoolMaxFiles: 1 }, { spoolMaxBytes: 10 }]) {
    assert.throws(() => resolveAgentConfig(bad, {}), (error: unknown) => error instanceof AgentConfigError && new RegExp(Object.keys(bad)[0]!).test(error.message), JSON.stringify(bad));
  }
});
