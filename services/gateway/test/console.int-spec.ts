// The web console's files at /console and GET /v1/whoami, on a real gateway (real NATS under it):
// the files with their cache policy and CSP, the SPA fallback, a 404 that says the console is not
// built while the API keeps answering, and the scope a token has.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { ErrorCode } from '@fleetcast/contracts';
import { NatsServer, startNatsServer, stopAll } from '@fleetcast/testing';
import { hashedEntry } from '../src/auth/api-tokens';
import { CONSOLE_CSP, IMMUTABLE_CACHE, REVALIDATE_CACHE } from '../src/console/console-files';
import { startTestGateway } from './support/test-gateway';

const ADMIN = 'console-int-admin-token';
const READER = 'console-int-reader-token';
const INDEX = '<!doctype html><title>Fleetcast console</title><script type="module" src="/console/assets/index-abc123.js"></script>';
const SCRIPT = 'console.log("console")';

describe('gateway: the web console at /console and GET /v1/whoami', () => {
  let nats: NatsServer;
  let work: string;
  const apps: INestApplication[] = [];

  const start = async (consoleDir: string): Promise<string> => {
    const { app, baseUrl } = await startTestGateway(nats, {
      apiTokens: `${hashedEntry('ops', 'admin', ADMIN)},${hashedEntry('auditor', 'read-only', READER)}`,
      logName: 'gateway-console-int-test',
      consoleDir,
    });
    apps.push(app);
    return baseUrl;
  };

  let built: string;
  let missing: string;

  before(async () => {
    nats = await startNatsServer();
    work = await mkdtemp(join(tmpdir(), 'fleetcast-console-int-'));
    await mkdir(join(work, 'web', 'assets'), { recursive: true });
    await writeFile(join(work, 'web', 'index.html'), INDEX);
    await writeFile(join(work, 'web', 'assets', 'index-abc123.js'), SCRIPT);
    built = await start(join(work, 'web'));
    missing = await start(join(work, 'not-built'));
  });

  after(async () => {
    for (const app of apps) await app.close();
    await stopAll();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('serves index.html at /console and /console/ without a token, revalidated, with the CSP', async () => {
    for (const path of ['/console', '/console/']) {
      const res = await request(built).get(path).expect(200);
      assert.equal(res.text, INDEX, path);
      assert.match(res.headers['content-type'], /text\/html/);
      assert.equal(res.headers['cache-control'], REVALIDATE_CACHE);
      assert.equal(res.headers['content-security-policy'], CONSOLE_CSP);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['x-frame-options'], 'DENY');
    }
  });

  it('a page of the application falls back to index.html; a hashed asset is cached for a year', async () => {
    const page = await request(built).get('/console/tasks/t-123').expect(200);
    assert.equal(page.text, INDEX);
    assert.equal(page.headers['cache-control'], REVALIDATE_CACHE);
    const asset = await request(built).get('/console/assets/index-abc123.js').expect(200);
    assert.equal(asset.text, SCRIPT);
    assert.match(asset.headers['content-type'], /javascript/);
    assert.equal(asset.headers['cache-control'], IMMUTABLE_CACHE);
    assert.equal(asset.headers['content-security-policy'], CONSOLE_CSP);
  });

  it('a missing asset or file is a 404 in the API error format, never index.html', async () => {
    for (const path of ['/console/assets/gone-999.js', '/console/robots.txt']) {
      const res = await request(built).get(path).expect(404);
      assert.equal(res.body.code, ErrorCode.NotFound, path);
      assert.match(res.body.message, /no console file/);
    }
    // Nothing outside the console's directory is reachable through it.
    const res = await request(built).get('/console/..%2f..%2fpackage.json');
    assert.notEqual(res.status, 200);
  });

  it('without a built console, /console says so with a 404 and the API keeps answering', async () => {
    for (const path of ['/console', '/console/tasks/t-1', '/console/assets/index-abc123.js']) {
      const res = await request(missing).get(path).expect(404);
      assert.equal(res.body.code, ErrorCode.NotFound);
      assert.match(res.body.message, /web console is not built.*npm run build.*CONSOLE_DIR/);
    }
    const me = await request(missing).get('/v1/whoami').set('authorization', `Bearer ${ADMIN}`).expect(200);
    assert.equal(me.body.scope, 'admin');
  });

  it('GET /v1/whoami names the token and its scope; without a valid token it is a 401', async () => {
    const admin = await request(built).get('/v1/whoami').set('authorization', `Bearer ${ADMIN}`).expect(200);
    assert.deepEqual(admin.body, { name: 'ops', scope: 'admin', authDisabled: false });
    const reader = await request(built).get('/v1/whoami').set('authorization', `Bearer ${READER}`).expect(200);
    assert.deepEqual(reader.body, { name: 'auditor', scope: 'read-only', authDisabled: false });
    assert.equal((await request(built).get('/v1/whoami').expect(401)).body.code, ErrorCode.Unauthorized);
    assert.equal((await request(built).get('/v1/whoami').set('authorization', 'Bearer nope').expect(401)).body.code, ErrorCode.Unauthorized);
  });

  it('the API document lists /v1/whoami', async () => {
    const doc = await request(built).get('/docs-json').expect(200);
    assert.ok(doc.body.paths['/v1/whoami']?.get, Object.keys(doc.body.paths).join(', '));
  });
});
