import { ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { OUTPUT_TAIL_MAX_CHARS } from '@fleetcast/contracts';
import { AgentErrorCode, FailureReason } from '../core/agent-errors';
import { expandInstallArgs } from '../core/install-command';
import { installerEnvironment } from '../core/installer-env';
import { OutputTail } from '../core/output-tail';

export { PACKAGE_PATH_ENV } from '../core/installer-env';

/**
 * Defaults.
 * - 10 s between SIGTERM and SIGKILL: enough for an installer to roll back a half-written change on
 *   a slow disk, short enough that a hung one does not hold the task much past its timeout.
 * - 2 s of output drain after exit: a child the installer left running may hold the pipes open
 *   forever; what it says after the installer ended is not the installer's output.
 */
export const INSTALLER_DEFAULTS = {
  killGraceMs: 10_000,
  drainAfterExitMs: 2_000,
};

/** Largest delay a Node timer takes (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface InstallRequest {
  command: string;
  /** `{package}` in any argument is replaced by the package path. */
  args: readonly string[];
  /** The verified file in the cache. */
  packagePath: string;
  timeoutMs: number;
  killGraceMs?: number;
  drainAfterExitMs?: number;
  /** Where the per-run work directory is made; the OS temp directory unless given. */
  workRoot?: string;
  /** The environment the installer's is chosen from (`core/installer-env.ts`); the agent's own unless given. */
  env?: NodeJS.ProcessEnv;
  /** Further variables to pass by name (the agent's `--installer-env`). */
  passEnv?: readonly string[];
  outputTailMaxChars?: number;
  /**
   * Makes the file the command installs inside the run's work directory and answers its path, used
   * instead of `packagePath` (a confidential package is opened there, so its plaintext never lies in
   * the shared cache and goes with the work directory). A rejection with a `code` is the result's
   * failure, and nothing runs.
   */
  preparePackage?: (workDir: string) => Promise<string>;
}

export interface InstallResult {
  /** Null when the process was ended by a signal or never ran. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The last characters of stdout and stderr, interleaved as they arrived. */
  outputTail: string;
  durationMs: number;
  /** Set when the command could not be run at all (INSTALL.SPAWN_FAILED); never thrown. */
  failure: FailureReason | null;
}

/**
 * Runs an install command: no shell (arguments go to the process as a list, so nothing in a package
 * definition or a path is ever interpreted), a fresh work directory as cwd, a minimal environment
 * (an allowlist, `passEnv`, and the package path in FLEETCAST_PACKAGE_PATH; never the agent's whole
 * environment) and `{package}`, a timeout that ends the whole process tree, and only the tail of the
 * output kept. Never rejects: every outcome is a result.
 */
export async function runInstaller(request: InstallRequest): Promise<InstallResult> {
  const began = performance.now();
  const tail = new OutputTail(request.outputTailMaxChars ?? OUTPUT_TAIL_MAX_CHARS);
  const elapsed = () => Math.round(performance.now() - began);
  let workDir: string;
  try {
    workDir = await mkdtemp(join(request.workRoot ?? tmpdir(), 'fleetcast-install-'));
  } catch (error) {
    return spawnFailed(`cannot create a work directory: ${describe(error)}`, tail, elapsed());
  }
  try {
    let packagePath = request.packagePath;
    if (request.preparePackage) {
      try {
        packagePath = await request.preparePackage(workDir);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        return {
          exitCode: null,
          signal: null,
          timedOut: false,
          outputTail: '',
          durationMs: elapsed(),
          failure: { code: typeof code === 'string' && code.startsWith('INSTALL.') ? code : AgentErrorCode.InstallSpawnFailed, message: describe(error) },
        };
      }
    }
    return await runIn(workDir, { ...request, packagePath }, tail, elapsed);
  } finally {
    await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

function runIn(workDir: string, request: InstallRequest, tail: OutputTail, elapsed: () => number): Promise<InstallResult> {
  const killGraceMs = request.killGraceMs ?? INSTALLER_DEFAULTS.killGraceMs;
  const drainAfterExitMs = request.drainAfterExitMs ?? INSTALLER_DEFAULTS.drainAfterExitMs;
  return new Promise<InstallResult>((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(request.command, expandInstallArgs(request.args, request.packagePath), {
        cwd: workDir,
        env: installerEnvironment(request.env ?? process.env, request.packagePath, process.platform, request.passEnv),
        shell: false,
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group on POSIX, so that a timeout can end the installer and everything it started.
        detached: process.platform !== 'win32',
        windowsHide: true,
      });
    } catch (error) {
      // Invalid arguments (a NUL byte in a path) throw synchronously rather than emit 'error'.
      resolve(spawnFailed(describe(error), tail, elapsed()));
      return;
    }

    let settled = false;
    let timedOut = false;
    /** SIGKILL went to the group after a timeout: nothing of the installer can still be running. */
    let swept = false;
    let closed = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let killTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;

    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      const decoder = new StringDecoder('utf8');
      stream.on('data', (chunk: Buffer) => tail.append(decoder.write(chunk)));
      stream.on('end', () => tail.append(decoder.end()));
      stream.on('error', () => undefined);
    }

    const finish = (result: InstallResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timeoutTimer);
      clearTimeout(killTimer);
      clearTimeout(drainTimer);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(result);
    };
    const finishWithExit = () =>
      finish({ exitCode: exit?.code ?? null, signal: exit?.signal ?? null, timedOut, outputTail: tail.toString(), durationMs: elapsed(), failure: null });
    /** The installer has ended (and after a timeout, its group too): report once the pipes close, or after the drain time. */
    const ended = () => {
      if (closed) finishWithExit();
      else drainTimer ??= setTimeout(finishWithExit, drainAfterExitMs);
    };
    /** After a timeout the result waits until the whole group is gone, not just the installer. */
    const groupGone = () => !timedOut || swept || !groupAlive(child);

    // Node runs a longer timer at once (32-bit delay); the contract's 24 h maximum is far below it.
    const timeoutMs = Math.min(Math.max(request.timeoutMs, 0), MAX_TIMER_MS);
    const timeoutTimer = setTimeout(() => {
      timedOut = true;
      tail.append(`\n[fleetcast: timed out after ${request.timeoutMs} ms; terminating]\n`);
      killTree(child, 'SIGTERM');
      killTimer = setTimeout(() => {
        killTree(child, 'SIGKILL');
        swept = true;
        if (exit !== null) ended();
      }, killGraceMs);
    }, timeoutMs);

    child.once('error', (error) => {
      // Spawning failed (command not found, not executable): no process exists, none will exit.
      if (child.pid === undefined) finish(spawnFailed(describe(error), tail, elapsed()));
    });
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      // Ended in time: output still draining is no reason to call it a timeout.
      if (!timedOut) clearTimeout(timeoutTimer);
      if (groupGone()) ended();
    });
    child.once('close', () => {
      closed = true;
      if (exit !== null && groupGone()) finishWithExit();
    });
  });
}

/** Is any process of the installer's group still there? (POSIX; Windows has no groups to ask.) */
function groupAlive(child: ChildProcess): boolean {
  if (child.pid === undefined || process.platform === 'win32') return false;
  try {
    process.kill(-child.pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Signals the installer's whole process group (POSIX) or tree (Windows); gone already is fine. */
function killTree(child: ChildProcess, signal: 'SIGTERM' | 'SIGKILL'): void {
  if (child.pid === undefined) return;
  if (process.platform === 'win32') {
    // Windows has no process groups or SIGTERM; taskkill /T walks the tree, /F forces.
    const args = ['/pid', String(child.pid), '/T', ...(signal === 'SIGKILL' ? ['/F'] : [])];
    spawn('taskkill', args, { stdio: 'ignore', windowsHide: true }).on('error', () => undefined);
    return;
  }
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is already empty.
  }
}

function spawnFailed(message: string, tail: OutputTail, durationMs: number): InstallResult {
  return {
    exitCode: null,
    signal: null,
    timedOut: false,
    outputTail: tail.toString(),
    durationMs,
    failure: { code: AgentErrorCode.InstallSpawnFailed, message: `the install command could not be started: ${message}` },
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
