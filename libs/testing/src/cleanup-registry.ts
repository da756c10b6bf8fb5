/**
 * Everything this library starts (child processes, servers, temp dirs) registers here, so that
 * `stopAll()` can clean up after a test file, and so that nothing outlives the test process when
 * it dies without running its `after` hooks (an uncaught error, a runner timeout, Ctrl-C).
 */
export interface TrackedResource {
  /** Orderly stop; must be idempotent. */
  stop(): Promise<unknown>;
  /** Synchronous last resort while the process exits: SIGKILL and remove files, no awaiting. */
  killNow(): void;
}

const live = new Set<TrackedResource>();
let hooksInstalled = false;

/** Signals whose default action ends the process without running 'exit' listeners. */
const TERMINATING_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export function track(resource: TrackedResource): () => void {
  installHooks();
  live.add(resource);
  return () => {
    live.delete(resource);
  };
}

/**
 * Stops every process and NATS server this library started in this process and that is still
 * alive (databases are not included: drop them with their own `drop()`). Safe to call twice;
 * typical use: `after(stopAll)`.
 */
export async function stopAll(): Promise<void> {
  const results = await Promise.allSettled([...live].map((resource) => resource.stop()));
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
  if (failures.length > 0) throw new AggregateError(failures, `stopAll: ${failures.length} resource(s) failed to stop`);
}

function killAllNow(): void {
  for (const resource of live) {
    try {
      resource.killNow();
    } catch {
      // Best effort while exiting: one failure must not spare the others.
    }
  }
  live.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllNow);
  for (const signal of TERMINATING_SIGNALS) {
    process.once(signal, () => {
      killAllNow();
      // Keep the signal's usual effect unless someone else chose to handle it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}
