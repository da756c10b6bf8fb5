import { execFile, execFileSync } from 'node:child_process';
import { LabError } from './lab-error';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the command's stdin (an nftables ruleset for `nft -f -`). */
  input?: string;
  /**
   * The lab's commands (ip, tc, nft, sysctl) finish in milliseconds; 20 s only fires when one
   * hangs, and then the caller learns which one instead of a test timing out with no cause.
   */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 20_000;
/** `ip -s -j link` over a whole lab stays far below this; the cap only guards against a runaway. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

function commandFailed(command: readonly string[], stderr: string, exitCode: number | null, cause: unknown): LabError {
  const detail = stderr.trim() || (cause instanceof Error ? cause.message : String(cause));
  return new LabError('LAB.COMMAND_FAILED', `command failed: ${command.join(' ')}: ${detail}`, {
    command,
    stderr: stderr.trim(),
    exitCode,
    cause,
  });
}

/** Runs one program with an argv (never a shell string); a failure is a `LAB.COMMAND_FAILED`. */
export function runCommand(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const command = [cmd, ...args];
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { encoding: 'utf8', timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (error) {
          const exitCode = typeof error.code === 'number' ? error.code : null;
          reject(commandFailed(command, stderr, exitCode, error));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
    // Without input, close stdin at once so that a program that reads it cannot wait forever.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

/**
 * The same, blocking: only for cleanup in an 'exit' or signal handler, where Node runs no more
 * callbacks and an asynchronous command would never finish.
 */
export function runCommandSync(cmd: string, args: readonly string[], options: RunOptions = {}): string {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      input: options.input ?? '',
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxBuffer: MAX_OUTPUT_BYTES,
      killSignal: 'SIGKILL',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (error) {
    const failure = error as { stderr?: string | Buffer; status?: number | null };
    throw commandFailed([cmd, ...args], String(failure.stderr ?? ''), failure.status ?? null, error);
  }
}

/** Parses a command's JSON output; iproute2 prints nothing at all for an empty list in some versions. */
export function parseJsonOutput<T>(stdout: string, empty: T): T {
  const text = stdout.trim();
  return text === '' ? empty : (JSON.parse(text) as T);
}
