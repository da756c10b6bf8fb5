import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OUTPUT_TAIL_MAX_CHARS } from '@fleetcast/contracts';
import { AgentErrorCode } from '../src/core/agent-errors';
import { InstallRequest, PACKAGE_PATH_ENV, runInstaller } from '../src/adapters/installer';
import { tempDir } from './support/content-fixture';
import { waitFor } from './support/wait-for';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function scratch(): Promise<string> {
  const { dir, remove } = await tempDir('installer');
  cleanups.push(remove);
  return dir;
}

/** Runs a Node script as the install command: the same on every platform the agent ships for. */
async function node(script: string, overrides: Partial<InstallRequest> = {}) {
  const workRoot = await scratch();
  const result = await runInstaller({
    command: process.execPath,
    args: ['-e', script],
    packagePath: '/cache/content/pkg with space',
    timeoutMs: 20_000,
    workRoot,
    ...overrides,
  });
  return { result, workRoot };
}

/** Alive and not a zombie (a container's init may not reap orphans at once; a zombie runs nothing). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    try {
      process.kill(pid, 0);
      return process.platform !== 'linux';
    } catch {
      return false;
    }
  }
}

test('installer: success with the package path substituted and exported, in a work dir removed afterwards', async () => {
  const workRoot = await scratch();
  const script = [
    `console.log('cwd=' + process.cwd());`,
    `console.error('env=' + process.env.${PACKAGE_PATH_ENV});`,
    `console.log('args=' + process.argv.slice(1).join('|'));`,
  ].join('\n');
  const result = await runInstaller({
    command: process.execPath,
    args: ['-e', script, '--', '--file={package}', '{package}'],
    packagePath: '/cache/content/pkg with space',
    timeoutMs: 20_000,
    workRoot,
  });
  assert.equal(result.exitCode, 0);
  assert.equal(result.signal, null);
  assert.equal(result.timedOut, false);
  assert.equal(result.failure, null);
  assert.ok(result.durationMs >= 0);
  assert.match(result.outputTail, /env=\/cache\/content\/pkg with space/);
  assert.match(result.outputTail, /args=--file=\/cache\/content\/pkg with space\|\/cache\/content\/pkg with space\n/);
  const cwd = /cwd=(.*)/.exec(result.outputTail)?.[1] ?? '';
  assert.ok(cwd.startsWith(join(workRoot, 'fleetcast-install-')), cwd);
  assert.equal(existsSync(cwd), false, 'the work dir is removed after the run');
  assert.deepEqual(await readdir(workRoot), []);
});

test('installer: a failing exit code is reported as such, not as a spawn failure', async () => {
  const { result } = await node(`console.error('disk full'); process.exit(3);`);
  assert.equal(result.exitCode, 3);
  assert.equal(result.failure, null);
  assert.match(result.outputTail, /disk full/);
});

test('installer: no shell: metacharacters in arguments reach the program literally', async () => {
  const dir = await scratch();
  const marker = join(dir, 'injected');
  const hostile = [`; touch ${marker}`, `$(touch ${marker})`, '`id`', '&& echo hi', "'quoted'", '*'];
  const { result } = await node('', { args: ['-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', ...hostile] });
  assert.equal(result.exitCode, 0);
  assert.deepEqual(JSON.parse(result.outputTail), hostile);
  assert.equal(existsSync(marker), false);
});

test('installer: only the tail of a large output is kept', async () => {
  const { result } = await node(`const line = 'x'.repeat(99) + '\\n'; for (let i = 0; i < 5000; i++) process.stdout.write(line); console.log('THE-END');`);
  assert.equal(result.exitCode, 0);
  assert.equal(result.outputTail.length, OUTPUT_TAIL_MAX_CHARS);
  assert.ok(result.outputTail.endsWith('xxx\nTHE-END\n'));
});

test('installer: a timeout ends a process that honours SIGTERM without waiting for the grace period', async () => {
  const { result } = await node(`console.log('started'); setInterval(() => {}, 1000);`, { timeoutMs: 300, killGraceMs: 30_000 });
  assert.equal(result.timedOut, true);
  assert.equal(result.signal, 'SIGTERM');
  assert.equal(result.exitCode, null);
  assert.match(result.outputTail, /started[\s\S]*timed out after 300 ms/);
  assert.ok(result.durationMs >= 300 && result.durationMs < 20_000, String(result.durationMs));
});

test('installer: a timeout kills the whole tree, with SIGKILL for what ignores SIGTERM', { skip: process.platform === 'win32' }, async () => {
  const dir = await scratch();
  const pidFile = join(dir, 'grandchild.pid');
  // The shell ignores SIGTERM, and so does its background child (an ignored signal stays ignored across exec).
  const result = await runInstaller({
    command: '/bin/sh',
    args: ['-c', `trap '' TERM; sleep 300 & echo $! > '${pidFile}'; echo waiting; wait`],
    packagePath: '/nowhere',
    timeoutMs: 400,
    killGraceMs: 300,
    workRoot: dir,
  });
  assert.equal(result.timedOut, true);
  assert.equal(result.signal, 'SIGKILL');
  assert.match(result.outputTail, /waiting/);
  const grandchild = Number((await readFile(pidFile, 'utf8')).trim());
  assert.ok(grandchild > 0);
  await waitFor(() => !isRunning(grandchild), `grandchild ${grandchild} to be gone`);
});

test('installer: a missing command is a SPAWN_FAILED result, never a throw', async () => {
  const dir = await scratch();
  const result = await runInstaller({ command: join(dir, 'no-such-installer'), args: [], packagePath: '/x', timeoutMs: 5000, workRoot: dir });
  assert.equal(result.failure?.code, AgentErrorCode.InstallSpawnFailed);
  assert.match(result.failure?.message ?? '', /ENOENT/);
  assert.equal(result.exitCode, null);
  assert.equal(result.timedOut, false);
  assert.deepEqual(await readdir(dir), [], 'the work dir is removed after a failed spawn too');
});

// Even root needs an execute bit to run a file, so this holds for every user.
test('installer: a file that is not executable is a SPAWN_FAILED result', { skip: process.platform === 'win32' }, async () => {
  const dir = await scratch();
  const script = join(dir, 'install.sh');
  await writeFile(script, '#!/bin/sh\nexit 0\n');
  await chmod(script, 0o644);
  const result = await runInstaller({ command: script, args: [], packagePath: '/x', timeoutMs: 5000, workRoot: dir });
  assert.equal(result.failure?.code, AgentErrorCode.InstallSpawnFailed);
  assert.match(result.failure?.message ?? '', /EACCES/);
});

test('installer: a work root that cannot be used is a SPAWN_FAILED result', async () => {
  const result = await runInstaller({ command: process.execPath, args: ['-e', ''], packagePath: '/x', timeoutMs: 5000, workRoot: '/proc/no/such/dir' });
  assert.equal(result.failure?.code, AgentErrorCode.InstallSpawnFailed);
  assert.match(result.failure?.message ?? '', /work directory/);
});
