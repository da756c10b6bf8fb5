import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

const MAIN = join(__dirname, '..', 'src', 'main.js');

/** The environment of the test process, minus anything that would configure the origin. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('ORIGIN_') && key !== 'API_TOKENS') env[key] = value;
  }
  return { ...env, ...extra };
}

test('main: a bad environment stops start-up with a message naming the variable', async () => {
  const child = spawn(process.execPath, [MAIN], { env: cleanEnv({ HTTP_PORT: 'eighty' }), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 1);
  assert.match(stderr, /HTTP_PORT: must be a port number/);
  assert.doesNotMatch(stderr, /\n\s+at /, 'a configuration error is a message, not a stack trace');
});

test('main: starts from the environment, serves, and stops on SIGTERM', async () => {
  const storeDir = await mkdtemp(join(tmpdir(), 'origin-main-'));
  const child = spawn(process.execPath, [MAIN], {
    env: cleanEnv({ HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', ORIGIN_STORE_DIR: storeDir }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    // Log lines are JSON objects; the start-up line carries the port the OS picked.
    const port = await new Promise<number>((resolve, reject) => {
      let buffered = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        for (const line of buffered.split('\n')) {
          if (!line.includes('origin listening')) continue;
          resolve((JSON.parse(line) as { port: number }).port);
        }
      });
      child.once('exit', (code) => reject(new Error(`origin exited with ${code} before listening`)));
      setTimeout(() => reject(new Error('origin did not start within 20 s')), 20_000).unref();
    });
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'ready');

    // Nest closes the app on SIGTERM, then re-raises the signal so the exit status tells the truth.
    child.kill('SIGTERM');
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    assert.ok(code === 0 || signal === 'SIGTERM', `exited with code ${code}, signal ${signal}`);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'nothing listens after shutdown');
  } finally {
    child.kill('SIGKILL');
    await rm(storeDir, { recursive: true, force: true });
  }
});
