import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';

export interface WaitForOptions {
  /**
   * Give up after this long. The default of 10 s is long enough for a server to start on a loaded
   * 2-core CI machine and short enough that a condition that never comes fails the test soon.
   */
  timeoutMs?: number;
  /** Pause between attempts; 50 ms keeps a polled server or database mostly idle. */
  intervalMs?: number;
  /** What is awaited, in words ("the tasks service to answer /healthz"); it leads the timeout message. */
  description?: string;
  /** Stops polling early (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** The values `if (x)` accepts: what `waitFor` resolves to. */
export type Truthy<T> = Exclude<T, false | 0 | 0n | '' | null | undefined>;

type LastOutcome =
  | { kind: 'none' }
  | { kind: 'value'; value: unknown }
  | { kind: 'error'; error: unknown }
  | { kind: 'pending' };

/** Longest rendering of the last value kept in the message, so a huge object cannot bury the cause. */
const MAX_RENDERED_VALUE = 2_000;

export class WaitForTimeoutError extends Error {
  readonly code = 'TESTING.WAIT_TIMEOUT';

  constructor(
    readonly description: string,
    readonly timeoutMs: number,
    readonly attempts: number,
    readonly last: LastOutcome,
  ) {
    super(
      `timed out after ${timeoutMs} ms (${attempts} attempt${attempts === 1 ? '' : 's'}) waiting for ${description}; ${describeLast(last)}`,
      last.kind === 'error' ? { cause: last.error } : undefined,
    );
    this.name = 'WaitForTimeoutError';
  }
}

/**
 * Polls `predicate` until it returns (or resolves to) a truthy value, and returns that value.
 * A predicate that throws counts as "not yet"; its error is kept for the timeout message.
 * An attempt that is still pending at the deadline does not hold the caller past it.
 */
export async function waitFor<T>(
  predicate: () => T | PromiseLike<T>,
  options: WaitForOptions = {},
): Promise<Truthy<Awaited<T>>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 50;
  const description = options.description ?? 'a condition';
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  let last: LastOutcome = { kind: 'none' };
  for (;;) {
    options.signal?.throwIfAborted();
    attempts += 1;
    try {
      const outcome = await beforeDeadline(Promise.resolve().then(predicate), deadline - Date.now());
      if (outcome.done) {
        if (outcome.value) return outcome.value as Truthy<Awaited<T>>;
        last = { kind: 'value', value: outcome.value };
      } else {
        last = { kind: 'pending' };
      }
    } catch (error) {
      last = { kind: 'error', error };
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new WaitForTimeoutError(description, timeoutMs, attempts, last);
    try {
      await sleep(Math.min(intervalMs, remaining), undefined, { signal: options.signal });
    } catch (error) {
      // Surface the caller's abort reason rather than the timer's generic AbortError.
      options.signal?.throwIfAborted();
      throw error;
    }
  }
}

async function beforeDeadline<T>(attempt: Promise<T>, remainingMs: number): Promise<{ done: true; value: T } | { done: false }> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<{ done: false }>((resolve) => {
    timer = setTimeout(() => resolve({ done: false }), Math.max(0, remainingMs));
  });
  try {
    return await Promise.race([attempt.then((value) => ({ done: true as const, value })), expired]);
  } finally {
    clearTimeout(timer);
  }
}

function describeLast(last: LastOutcome): string {
  switch (last.kind) {
    case 'none':
      return 'no attempt completed';
    case 'pending':
      return 'the last attempt had not settled';
    case 'error':
      return `last error: ${last.error instanceof Error ? `${last.error.name}: ${last.error.message}` : render(last.error)}`;
    case 'value':
      return `last value: ${render(last.value)}`;
  }
}

function render(value: unknown): string {
  const text = inspect(value, { depth: 4, breakLength: Infinity, compact: true });
  return text.length > MAX_RENDERED_VALUE ? `${text.slice(0, MAX_RENDERED_VALUE)}… (${text.length} chars)` : text;
}
