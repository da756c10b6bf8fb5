import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadGatewayConfig } from '../config/gateway.config';
import { cacheControlOf, CONSOLE_CSP, fallsBackToIndex, IMMUTABLE_CACHE, REVALIDATE_CACHE } from './console-files';

test('hashed assets are cached for a year; index.html and the rest are revalidated', () => {
  assert.equal(cacheControlOf('assets/index-3f9a1c.js'), IMMUTABLE_CACHE);
  assert.equal(cacheControlOf('/assets/index-3f9a1c.css'), IMMUTABLE_CACHE);
  assert.equal(cacheControlOf('index.html'), REVALIDATE_CACHE);
  assert.equal(cacheControlOf('favicon.svg'), REVALIDATE_CACHE);
  // A path that only looks like it is under assets/ after normalisation is judged by where it ends up.
  assert.equal(cacheControlOf('assets/../index.html'), REVALIDATE_CACHE);
});

test('only page loads fall back to index.html; a missing asset or another method is a 404', () => {
  const table: Array<[string, string, boolean]> = [
    ['GET', '/', true],
    ['GET', '/tasks/abc', true],
    ['HEAD', '/packages', true],
    ['GET', '/assets/index-abc.js', false],
    ['GET', '/assets/new', false],
    ['GET', '/logo.png', false],
    ['POST', '/tasks', false],
    ['DELETE', '/', false],
  ];
  for (const [method, path, expected] of table) assert.equal(fallsBackToIndex(method, path), expected, `${method} ${path}`);
});

test('the CSP allows the console its own origin only: no inline scripts, no framing', () => {
  assert.match(CONSOLE_CSP, /default-src 'self'/);
  assert.match(CONSOLE_CSP, /script-src 'self'(;|$)/);
  assert.doesNotMatch(CONSOLE_CSP, /unsafe-inline|unsafe-eval|\*/);
  assert.match(CONSOLE_CSP, /frame-ancestors 'none'/);
});

test('CONSOLE_DIR: by default the repository build of apps/console; set, an absolute path', () => {
  const byDefault = loadGatewayConfig({ AUTH_DISABLED: 'true' }).consoleDir!;
  assert.match(byDefault, /apps[/\\]console[/\\]dist[/\\]web$/);
  // The default lies in this checkout: next to services/, where the gateway's package is.
  assert.equal(existsSync(join(byDefault, '..', '..', '..', '..', 'services', 'gateway', 'package.json')), true, byDefault);
  assert.equal(loadGatewayConfig({ AUTH_DISABLED: 'true', CONSOLE_DIR: 'relative/web' }).consoleDir, join(process.cwd(), 'relative/web'));
  assert.throws(() => loadGatewayConfig({ AUTH_DISABLED: 'true', CONSOLE_DIR: '' }), /CONSOLE_DIR/);
});
