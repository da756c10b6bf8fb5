import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, WriteStream } from 'node:fs';
import { basename, dirname, resolve as resolvePath } from 'node:path';
import { track } from './cleanup-registry';
import { LineRingBuffer } from './line-ring-buffer';
import { waitFor, WaitForTimeoutError } from './wait-for';

export interface SpawnNodeProcessOptions {
  /** Shown in messages and the log file; defaults to the script's file name. */
  name?: string;
  args?: string[];
  /** Added to this process's environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Node flags placed before the script; source maps by default so stack traces point at .ts lines. */
  execArgv?: string[];
  /** Appends the whole output (not only the last lines) to this file. */
  logFile?: string;
  /** Lines kept for assertion messages. */
  outputLines?: number;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StopOptions {
  /** After this long without an exit, the process group gets SIGKILL. */
  timeoutMs?: number;
}

export interface NodeProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves (never rejects) once the process has exited and its output is read. */
  readonly exited: Promise<ProcessExit>;
  readonly running: boolean;
  /** The exit, once it happened. */
  readonly exit: ProcessExit | undefined;
  /** The last lines of stdout and stderr, interleaved as they arrived. */
  lines(): string[];
  output(): string;
  /** "name (pid N) running|exited ...; last output:" followed by the output, for assertion messages. */
  describe(): string;
  /** Resolves with the first output line matching `pattern`, also one printed before the call. */
  waitForOutput(pattern: RegExp, options?: { timeoutMs?: number }): Promise<RegExpMatchArray>;
  /** Sends `signal` (SIGTERM by default), escalates to SIGKILL after a timeout, and awaits the exit. */
  stop(signal?: NodeJS.Signals, options?: StopOptions): Promise<ProcessExit>;
  /** SIGKILL at once: simulates a crash. */
  kill(): Promise<ProcessExit>;
}

export class ProcessStartError extends Error {
  readonly code = 'TESTING.PROCESS_START_FAILED';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProcessStartError';
  }
}

export class ProcessExitedError extends Error {
  readonly code = 'TESTING.PROCESS_EXITED';

  constructor(message: string) {
    super(message);
    this.name = 'ProcessExitedError';
  }
}

/**
 * A test run's own variables that must not leak into a child: NODE_TEST_CONTEXT makes a child
 * that happens to load node:test report to the parent runner instead of running normally.
 */
const NOT_INHERITED = ['NODE_TEST_CONTEXT'];

/** A graceful stop longer than this is a hang; 10 s covers a service draining its consumers. */
const DEFAULT_STOP_TIMEOUT_MS = 10_000;

/** After the exit, how long to wait for the pipes to drain; a grandchild holding them open must not hold us. */
const OUTPUT_DRAIN_MS = 2_000;

/**
 * Starts `node <execArgv> <scriptPath> <args>` as a child in its own process group (so that stop
 * also reaches whatever it spawned), capturing its output.
 */
export async function spawnNodeProcess(scriptPath: string, options: SpawnNodeProcessOptions = {}): Promise<NodeProcess> {
  const script = resolvePath(scriptPath);
  if (!existsSync(script)) throw new ProcessStartError(`script not found: ${script} (is the package built?)`);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of NOT_INHERITED) delete env[name];
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  const child = spawn(process.execPath, [...(options.execArgv ?? ['--enable-source-maps']), script, ...(options.args ?? [])], {
    cwd: options.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) => reject(new ProcessStartError(`could not start ${script}: ${error.message}`, { cause: error })));
  });
  return new SpawnedNodeProcess(child, options.name ?? basename(script), options);
}

export interface WatchProcessOptions {
  /** Shown in messages and the log file. */
  name: string;
  /** Appends the whole output to this file. */
  logFile?: string;
  /** Lines kept for assertion messages. */
  outputLines?: number;
}

/**
 * The same handle over a child that someone else spawned: a program started inside a network-lab
 * namespace (`lab.spawn`, which runs `ip netns exec`), which `spawnNodeProcess` cannot start. The
 * child must have piped stdout and stderr and, for `stop` to reach what it starts, lead its own
 * process group (`detached: true`).
 */
export function watchProcess(child: ChildProcess, options: WatchProcessOptions): NodeProcess {
  if (child.pid === undefined) throw new ProcessExitedError(`${options.name} did not start`);
  return new SpawnedNodeProcess(child, options.name, options);
}

class SpawnedNodeProcess implements NodeProcess {
  readonly pid: number;
  readonly exited: Promise<ProcessExit>;
  private exitInfo: ProcessExit | undefined;
  private drained = false;
  private readonly buffer: LineRingBuffer;
  private readonly lineListeners = new Set<(line: string) => void>();
  private readonly log: WriteStream | undefined;
  private readonly untrack: () => void;

  constructor(
    private readonly child: ChildProcess,
    readonly name: string,
    options: Pick<SpawnNodeProcessOptions, 'logFile' | 'outputLines'>,
  ) {
    this.pid = child.pid!;
    this.buffer = new LineRingBuffer(options.outputLines ?? 200);
    if (options.logFile) {
      mkdirSync(dirname(options.logFile), { recursive: true });
      this.log = createWriteStream(options.logFile, { flags: 'a' });
      this.log.write(`--- ${name} (pid ${this.pid}) started ${new Date().toISOString()}\n`);
    }
    for (const source of ['stdout', 'stderr'] as const) {
      const stream = child[source]!;
      // Decoding in the stream keeps a multi-byte character split across chunks whole.
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        this.log?.write(chunk);
        this.emitLines(this.buffer.write(chunk, source));
      });
      stream.on('end', () => this.emitLines(this.buffer.end(source)));
    }
    this.untrack = track({ stop: () => this.stop(), killNow: () => this.killGroup() });
    this.exited = new Promise<ProcessExit>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        // Whatever the process left running in its group (install commands, workers) goes with it.
        this.killGroup();
        this.untrack();
        const closed = new Promise<void>((done) => child.once('close', () => done()));
        const timer = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
        }, OUTPUT_DRAIN_MS);
        void closed.then(() => {
          clearTimeout(timer);
          this.drained = true;
          // Resolve once the log file holds everything, so a caller may read it straight away.
          if (!this.log) return resolve(this.exitInfo!);
          this.log.end(`--- ${name} (pid ${this.pid}) exited ${formatExit(this.exitInfo!)} ${new Date().toISOString()}\n`, () => resolve(this.exitInfo!));
        });
      });
    });
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exit(): ProcessExit | undefined {
    return this.exitInfo;
  }

  lines(): string[] {
    return this.buffer.lines();
  }

  output(): string {
    return this.buffer.text();
  }

  describe(): string {
    const state = this.exitInfo ? `exited ${formatExit(this.exitInfo)}` : 'running';
    const dropped = this.buffer.dropped > 0 ? ` (${this.buffer.dropped} earlier lines not kept)` : '';
    return `${this.name} (pid ${this.pid}) ${state}; last output${dropped}:\n${this.output()}`;
  }

  async waitForOutput(pattern: RegExp, options: { timeoutMs?: number } = {}): Promise<RegExpMatchArray> {
    const matcher = new RegExp(pattern.source, pattern.flags.replace('g', ''));
    // An unfinished line could match too early ("port 30" of "port 3000").
    for (const line of this.buffer.lines({ completeOnly: true })) {
      const match = matcher.exec(line);
      if (match) return match;
    }
    let found: RegExpMatchArray | undefined;
    const listener = (line: string) => {
      found ??= matcher.exec(line) ?? undefined;
    };
    this.lineListeners.add(listener);
    try {
      const outcome = await waitFor(
        // After the output is drained, not at the exit: a last line may still be in the pipe.
        () => (found ? { match: found } : this.drained ? { match: undefined } : undefined),
        { timeoutMs: options.timeoutMs ?? 10_000, intervalMs: 20, description: `${this.name} to print ${pattern}` },
      );
      if (!outcome.match) throw new ProcessExitedError(`${this.name} exited before printing ${pattern}: ${this.describe()}`);
      return outcome.match;
    } catch (error) {
      // The timeout message alone does not say what the process printed instead.
      if (error instanceof WaitForTimeoutError) error.message += `\n${this.describe()}`;
      throw error;
    } finally {
      this.lineListeners.delete(listener);
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', options: StopOptions = {}): Promise<ProcessExit> {
    if (this.exitInfo) return this.exited;
    signalPid(this.pid, signal);
    const timeoutMs = options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs);
    });
    const outcome = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (outcome === 'late') this.killGroup();
    return this.exited;
  }

  kill(): Promise<ProcessExit> {
    return this.stop('SIGKILL');
  }

  private emitLines(lines: string[]): void {
    for (const line of lines) for (const listener of this.lineListeners) listener(line);
  }

  /** SIGKILL to the whole group: the process (if alive) and everything it started. */
  private killGroup(): void {
    signalPid(-this.pid, 'SIGKILL');
    if (!this.exitInfo) signalPid(this.pid, 'SIGKILL');
  }
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    // ESRCH: already gone, which is what we wanted.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function formatExit(exit: ProcessExit): string {
  return exit.signal ? `by signal ${exit.signal}` : `with code ${exit.code}`;
}
