import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopAll } from './cleanup-registry';
import { freePort } from './free-port';
import { ProcessExitedError, ProcessStartError, spawnNodeProcess } from './node-process';
import { waitFor } from './wait-for';

let dir = '';
const script = (name: string, source: string): string => {
  const path = join(dir, `${name}.js`);
  writeFileSync(path, source);
  return path;
};
/** A killed process stays a zombie until its new parent reaps it; that counts as gone. */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleetcast-process-test-'));
});

after(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

test('captures interleaved output, keeps the last 200 lines and reports the exit', { timeout: 30_000 }, async () => {
  const chatty = script(
    'chatty',
    `for (let i = 1; i <= 500; i++) console.log('line ' + i);
     process.stderr.write('fatal: disk full');
     process.exitCode = 3;`,
  );
  const logFile = join(dir, 'logs', 'chatty.log');
  const proc = await spawnNodeProcess(chatty, { name: 'chatty', logFile });
  assert.ok(proc.pid > 0);
  const exit = await proc.exited;
  assert.deepEqual(exit, { code: 3, signal: null });
  assert.equal(proc.running, false);
  const lines = proc.lines();
  assert.equal(lines.length, 200, proc.describe());
  assert.ok(lines.includes('fatal: disk full'), 'an unterminated stderr line is kept');
  assert.equal(lines.filter((l) => l.startsWith('line ')).at(-1), 'line 500');
  assert.equal(lines[0], 'line 302');
  assert.match(proc.describe(), /^chatty \(pid \d+\) exited with code 3; last output \(301 earlier lines not kept\):\nline 302\n/);
  const log = readFileSync(logFile, 'utf8');
  assert.match(log, /^--- chatty \(pid \d+\) started /);
  assert.ok(log.includes('\nline 1\n') && log.includes('\nline 500\n'), 'the log file has the whole output');
  assert.match(log, /--- chatty \(pid \d+\) exited with code 3 /);
});

test('passes arguments and environment, removes variables set to undefined and the runner context', { timeout: 30_000 }, async () => {
  process.env['FLEETCAST_TEST_REMOVE_ME'] = 'inherited';
  try {
    const echo = script(
      'echo',
      `console.log(JSON.stringify({ args: process.argv.slice(2), added: process.env.ADDED,
        removed: process.env.FLEETCAST_TEST_REMOVE_ME ?? null, runner: process.env.NODE_TEST_CONTEXT ?? null,
        sourceMaps: process.execArgv.includes('--enable-source-maps') }));`,
    );
    const proc = await spawnNodeProcess(echo, { args: ['--port', '1'], env: { ADDED: 'yes', FLEETCAST_TEST_REMOVE_ME: undefined } });
    await proc.exited;
    assert.deepEqual(JSON.parse(proc.output()), { args: ['--port', '1'], added: 'yes', removed: null, runner: null, sourceMaps: true });
  } finally {
    delete process.env['FLEETCAST_TEST_REMOVE_ME'];
  }
});

test('waitForOutput sees earlier and later lines, and fails clearly when the process exits instead', { timeout: 30_000 }, async () => {
  const server = script(
    'server',
    `console.log('booting');
     setTimeout(() => console.log('listening on port 3' + '000'), 100);
     setInterval(() => {}, 1000);`,
  );
  const proc = await spawnNodeProcess(server, { name: 'server' });
  const match = await proc.waitForOutput(/listening on port (\d+)/);
  assert.equal(match[1], '3000');
  assert.equal((await proc.waitForOutput(/booting/))[0], 'booting');
  await assert.rejects(proc.waitForOutput(/never printed/, { timeoutMs: 100 }), (error: Error) => {
    assert.match(error.message, /timed out after 100 ms .* waiting for server to print \/never printed\//);
    assert.match(error.message, /server \(pid \d+\) running; last output:\nbooting\nlistening on port 3000/);
    return true;
  });
  await proc.stop();

  const crasher = script('crasher', `console.log('starting'); setTimeout(() => { throw new Error('bad config'); }, 50);`);
  const crashed = await spawnNodeProcess(crasher, { name: 'crasher' });
  await assert.rejects(crashed.waitForOutput(/ready/, { timeoutMs: 10_000 }), (error: unknown) => {
    assert.ok(error instanceof ProcessExitedError);
    assert.match(error.message, /^crasher exited before printing \/ready\/: crasher \(pid \d+\) exited with code 1/);
    assert.match(error.message, /Error: bad config/);
    return true;
  });
});

test('stop lets a process shut down on SIGTERM and escalates to SIGKILL when it does not', { timeout: 30_000 }, async () => {
  const graceful = script(
    'graceful',
    `process.on('SIGTERM', () => { console.log('draining'); setTimeout(() => process.exit(0), 50); });
     console.log('up'); setInterval(() => {}, 1000);`,
  );
  const polite = await spawnNodeProcess(graceful);
  await polite.waitForOutput(/^up$/);
  assert.deepEqual(await polite.stop(), { code: 0, signal: null });
  assert.ok(polite.lines().includes('draining'));
  assert.deepEqual(await polite.stop(), { code: 0, signal: null }, 'stop is idempotent');

  const stubborn = script(
    'stubborn',
    `process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('up'); setInterval(() => {}, 1000);`,
  );
  const proc = await spawnNodeProcess(stubborn);
  await proc.waitForOutput(/^up$/);
  const started = Date.now();
  const exit = await proc.stop('SIGTERM', { timeoutMs: 300 });
  assert.deepEqual(exit, { code: null, signal: 'SIGKILL' });
  assert.ok(Date.now() - started >= 290, 'waited for the grace period');
  assert.ok(proc.lines().includes('ignoring SIGTERM'));
});

test('kill takes the processes the child started with it', { timeout: 30_000 }, async () => {
  const parent = script(
    'parent',
    `const { spawn } = require('node:child_process');
     const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
     console.log('grandchild ' + child.pid); setInterval(() => {}, 1000);`,
  );
  const proc = await spawnNodeProcess(parent);
  const grandchild = Number((await proc.waitForOutput(/grandchild (\d+)/))[1]);
  assert.ok(alive(grandchild));
  assert.deepEqual(await proc.kill(), { code: null, signal: 'SIGKILL' });
  await waitFor(() => !alive(grandchild), { timeoutMs: 5_000, description: `grandchild ${grandchild} to be gone` });
});

test('stopAll stops every process still running', { timeout: 30_000 }, async () => {
  const idle = script('idle', `console.log('up'); setInterval(() => {}, 1000);`);
  const procs = await Promise.all([spawnNodeProcess(idle), spawnNodeProcess(idle)]);
  await Promise.all(procs.map((p) => p.waitForOutput(/up/)));
  await stopAll();
  for (const p of procs) {
    assert.equal(p.running, false);
    assert.equal(alive(p.pid), false);
  }
});

test('nothing outlives a test process that is terminated without cleaning up', { timeout: 30_000 }, async () => {
  const idle = script('idle-grandchild', `setInterval(() => {}, 1000);`);
  const careless = script(
    'careless',
    `const { spawnNodeProcess } = require(${JSON.stringify(join(__dirname, 'index.js'))});
     spawnNodeProcess(${JSON.stringify(idle)}).then((p) => console.log('started ' + p.pid));`,
  );
  const proc = await spawnNodeProcess(careless);
  const orphan = Number((await proc.waitForOutput(/started (\d+)/))[1]);
  assert.ok(alive(orphan));
  // Only the careless process itself, not its group: its own handler must do the cleaning.
  process.kill(proc.pid, 'SIGTERM');
  assert.deepEqual(await proc.exited, { code: null, signal: 'SIGTERM' });
  await waitFor(() => !alive(orphan), { timeoutMs: 5_000, description: `orphan ${orphan} to be gone` });
});

test('a missing script is reported before anything is spawned', async () => {
  await assert.rejects(spawnNodeProcess(join(dir, 'missing', 'main.js')), (error: unknown) => {
    assert.ok(error instanceof ProcessStartError);
    assert.match(error.message, /script not found: .*missing\/main\.js \(is the package built\?\)/);
    return true;
  });
});

test('freePort returns a port that can be bound on loopback', async () => {
  const port = await freePort();
  assert.ok(port > 0 && port < 65_536);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  await new Promise((resolve) => server.close(resolve));
});
