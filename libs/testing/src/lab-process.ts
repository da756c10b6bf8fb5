import type { ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { track } from './cleanup-registry';
import { LineRingBuffer } from './line-ring-buffer';
import { ProcessExitedError, type NodeProcess, type ProcessExit, type StopOptions } from './node-process';
import { waitFor, WaitForTimeoutError } from './wait-for';

export interface WatchProcessOptions {
  /** Shown in messages and the log file. */
  name: string;
  /** Appends the whole output to this file. */
  logFile?: string;
  /** Lines kept for assertion messages. */
  outputLines?: number;
}

/** A graceful stop longer than this is a hang; an agent flushes its spool in well under a second. */
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
/** After the exit, how long to wait for the pipes to drain; a grandchild holding them must not hold us. */
const OUTPUT_DRAIN_MS = 2_000;

/**
 * The `NodeProcess` handle over a child that someone else spawned: a program started inside a
 * network-lab namespace (`lab.spawn`, which runs `ip netns exec`), that `spawnNodeProcess`
 * cannot start. The child must have piped stdout and stderr and, for `stop` to reach what it
 * starts, be the leader of its own process group (`detached: true`).
 */
export function watchProcess(child: ChildProcess, options: WatchProcessOptions): NodeProcess {
  if (child.pid === undefined) throw new ProcessExitedError(`${options.name} did not start`);
  return new WatchedProcess(child, child.pid, options);
}

class WatchedProcess implements NodeProcess {
  readonly name: string;
  readonly exited: Promise<ProcessExit>;
  private exitInfo: ProcessExit | undefined;
  private drained = false;
  private readonly buffer: LineRingBuffer;
  private readonly log: WriteStream | undefined;

  constructor(
    child: ChildProcess,
    readonly pid: number,
    options: WatchProcessOptions,
  ) {
    this.name = options.name;
    this.buffer = new LineRingBuffer(options.outputLines ?? 200);
    if (options.logFile) {
      mkdirSync(dirname(options.logFile), { recursive: true });
      this.log = createWriteStream(options.logFile, { flags: 'a' });
      this.log.write(`--- ${this.name} (pid ${pid}) started ${new Date().toISOString()}\n`);
    }
    for (const source of ['stdout', 'stderr'] as const) {
      const stream = child[source];
      if (!stream) continue;
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        this.log?.write(chunk);
        this.buffer.write(chunk, source);
      });
      stream.on('end', () => this.buffer.end(source));
    }
    const untrack = track({ stop: () => this.stop(), killNow: () => this.killGroup() });
    this.exited = new Promise<ProcessExit>((resolve) => {
      const gone = (exit: ProcessExit): void => {
        if (this.exitInfo) return;
        this.exitInfo = exit;
        // Whatever it left running in its group (install commands) goes with it.
        this.killGroup();
        untrack();
        let finished = false;
        const finish = (): void => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          this.drained = true;
          if (!this.log) return resolve(exit);
          this.log.end(`--- ${this.name} (pid ${pid}) exited ${formatExit(exit)} ${new Date().toISOString()}\n`, () => resolve(exit));
        };
        const timer = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish();
        }, OUTPUT_DRAIN_MS);
        // 'close' comes once the pipes are drained: the last lines are in the buffer and the log.
        child.once('close', finish);
      };
      child.once('exit', (code, signal) => gone({ code, signal }));
      child.once('error', () => gone({ code: null, signal: null }));
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
    return `${this.name} (pid ${this.pid}) ${state}; last output:\n${this.output()}`;
  }

  async waitForOutput(pattern: RegExp, options: { timeoutMs?: number } = {}): Promise<RegExpMatchArray> {
    const matcher = new RegExp(pattern.source, pattern.flags.replace('g', ''));
    const find = (): RegExpMatchArray | undefined => {
      // Complete lines only: an unfinished one could match too early ("port 30" of "port 3000").
      for (const line of this.buffer.lines({ completeOnly: true })) {
        const match = matcher.exec(line);
        if (match) return match;
      }
      return undefined;
    };
    try {
      const outcome = await waitFor(() => {
        const match = find();
        return match ? { match } : this.drained ? { match: undefined } : undefined;
      }, { timeoutMs: options.timeoutMs ?? 10_000, intervalMs: 50, description: `${this.name} to print ${pattern}` });
      if (!outcome.match) throw new ProcessExitedError(`${this.name} exited before printing ${pattern}: ${this.describe()}`);
      return outcome.match;
    } catch (error) {
      if (error instanceof WaitForTimeoutError) error.message += `\n${this.describe()}`;
      throw error;
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', options: StopOptions = {}): Promise<ProcessExit> {
    if (this.exitInfo) return this.exited;
    signalPid(this.pid, signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS);
    });
    const outcome = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (outcome === 'late') this.killGroup();
    return this.exited;
  }

  kill(): Promise<ProcessExit> {
    return this.stop('SIGKILL');
  }

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
