import { parseJsonOutput, runCommand, runCommandSync } from './command-runner';
import { LabError } from './lab-error';

/** What of a lab exists on this machine right now, found by its name prefix. */
export interface LabResources {
  /** Network namespaces named `<lab>-…`; their interfaces, bridges and nftables tables go with them. */
  namespaces: string[];
  /** Interfaces named `<lab>-…` in this (the root) namespace: none unless a build was cut short. */
  links: string[];
  /** nftables tables named `<lab>-…` in the root namespace: likewise none in a healthy run. */
  nftTables: Array<{ family: string; name: string }>;
}

/** One command the cleanup wants run; `tolerate` marks a step whose failure the final re-check judges. */
interface Step {
  cmd: string;
  args: string[];
  tolerate?: boolean;
}
type StepOutcome = { ok: true; stdout: string } | { ok: false; error: LabError };
type Cleanup = Generator<Step, void, StepOutcome>;

export function labPrefix(name: string): string {
  return `${name}-`;
}

export function selectNamespaces(netnsJson: string, prefix: string): string[] {
  const list = parseJsonOutput<Array<{ name: string }>>(netnsJson, []);
  return list.map((n) => n.name).filter((n) => n.startsWith(prefix));
}

export function selectLinks(linkJson: string, prefix: string): string[] {
  const list = parseJsonOutput<Array<{ ifname: string }>>(linkJson, []);
  return list.map((l) => l.ifname).filter((n) => n.startsWith(prefix));
}

export function selectNftTables(nftJson: string, prefix: string): Array<{ family: string; name: string }> {
  const parsed = parseJsonOutput<{ nftables?: Array<{ table?: { family: string; name: string } }> }>(nftJson, {});
  return (parsed.nftables ?? []).flatMap((entry) => (entry.table && entry.table.name.startsWith(prefix) ? [{ family: entry.table.family, name: entry.table.name }] : []));
}

function* listResources(prefix: string): Generator<Step, LabResources, StepOutcome> {
  const netns = yield { cmd: 'ip', args: ['-j', 'netns', 'list'] };
  const links = yield { cmd: 'ip', args: ['-j', 'link', 'show'] };
  const tables = yield { cmd: 'nft', args: ['-j', 'list', 'tables'] };
  return {
    namespaces: netns.ok ? selectNamespaces(netns.stdout, prefix) : rethrow(netns),
    links: links.ok ? selectLinks(links.stdout, prefix) : rethrow(links),
    nftTables: tables.ok ? selectNftTables(tables.stdout, prefix) : rethrow(tables),
  };
}

function rethrow(outcome: { ok: false; error: LabError }): never {
  throw outcome.error;
}

function killProcess(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone: what the cleanup wanted.
  }
}

/**
 * The cleanup as a sequence of commands, so that one body serves both the awaited `destroyLab`
 * and the blocking variant that exit handlers need.
 */
function* destroySteps(name: string): Cleanup {
  const prefix = labPrefix(name);
  const found = yield* listResources(prefix);
  const failures: LabError[] = [];
  for (const ns of found.namespaces) {
    // A process still inside keeps the namespace, and with it every veth, alive after `ip netns
    // del`, invisible to `ip netns list`; only processes the lab started live in its namespaces.
    const pids = yield { cmd: 'ip', args: ['netns', 'pids', ns], tolerate: true };
    if (pids.ok) for (const pid of pids.stdout.split(/\s+/).filter(Boolean).map(Number)) killProcess(pid);
    const del = yield { cmd: 'ip', args: ['netns', 'del', ns], tolerate: true };
    if (!del.ok) failures.push(del.error);
  }
  for (const link of found.links) {
    const del = yield { cmd: 'ip', args: ['link', 'del', 'dev', link], tolerate: true };
    if (!del.ok) failures.push(del.error);
  }
  for (const table of found.nftTables) {
    const del = yield { cmd: 'nft', args: ['delete', 'table', table.family, table.name], tolerate: true };
    if (!del.ok) failures.push(del.error);
  }
  // A step may fail because another cleanup got there first; only what is still there counts.
  const left = yield* listResources(prefix);
  const remaining = [...left.namespaces.map((n) => `namespace ${n}`), ...left.links.map((l) => `link ${l}`), ...left.nftTables.map((t) => `nft table ${t.family} ${t.name}`)];
  if (remaining.length > 0) {
    throw new LabError('LAB.COMMAND_FAILED', `lab "${name}": could not remove ${remaining.join(', ')}; ${failures.map((f) => f.message).join('; ')}`, {
      cause: failures[0],
      stderr: failures.map((f) => f.stderr ?? '').join('\n'),
    });
  }
}

async function driveAsync<T>(steps: Generator<Step, T, StepOutcome>): Promise<T> {
  let next = steps.next();
  while (!next.done) {
    const step = next.value;
    let outcome: StepOutcome;
    try {
      outcome = { ok: true, stdout: (await runCommand(step.cmd, step.args)).stdout };
    } catch (error) {
      if (!(error instanceof LabError)) throw error;
      outcome = { ok: false, error };
    }
    next = steps.next(outcome);
  }
  return next.value;
}

function driveSync<T>(steps: Generator<Step, T, StepOutcome>): T {
  let next = steps.next();
  while (!next.done) {
    const step = next.value;
    let outcome: StepOutcome;
    try {
      outcome = { ok: true, stdout: runCommandSync(step.cmd, step.args) };
    } catch (error) {
      if (!(error instanceof LabError)) throw error;
      outcome = { ok: false, error };
    }
    next = steps.next(outcome);
  }
  return next.value;
}

/** Lists what of lab `name` exists now (namespaces, and root-namespace links and nft tables). */
export function listLabResources(name: string): Promise<LabResources> {
  return driveAsync(listResources(labPrefix(name)));
}

/**
 * Removes every namespace (killing the processes inside first), root-namespace link and nftables
 * table whose name starts with `<name>-`. Idempotent; also cleans the leftovers of a crashed run.
 */
export function destroyLab(name: string): Promise<void> {
  return driveAsync(destroySteps(name));
}

/** `destroyLab`, blocking; for exit and signal handlers. */
export function destroyLabSync(name: string): void {
  driveSync(destroySteps(name));
}

const labsToDestroyOnExit = new Set<string>();
let hooksInstalled = false;
/** Signals whose default action ends the process without running 'exit' listeners. */
const TERMINATING_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function destroyAllNow(): void {
  for (const name of labsToDestroyOnExit) {
    try {
      destroyLabSync(name);
    } catch (error) {
      // Best effort while exiting: say what is left, and go on with the other labs.
      process.stderr.write(`netlab: cleanup of lab "${name}" failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
  labsToDestroyOnExit.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' also runs after an uncaught exception, so a test that throws midway leaves nothing.
  process.on('exit', destroyAllNow);
  for (const signal of TERMINATING_SIGNALS) {
    process.once(signal, () => {
      destroyAllNow();
      // Keep the signal's usual effect unless someone else chose to handle it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/**
 * Destroys lab `name` when this process exits or gets SIGINT/SIGTERM/SIGHUP (SIGKILL cannot be
 * caught: the next `createLab` of the same name, or `destroyLab`, removes those leftovers).
 * Returns the function that cancels it.
 */
export function destroyOnExit(name: string): () => void {
  installHooks();
  labsToDestroyOnExit.add(name);
  return () => {
    labsToDestroyOnExit.delete(name);
  };
}
