import { randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { FleetcastError, REPORT_SEQ_MAX, SCAN_SEQ_MAX, idSchema, isoTimeSchema } from '@fleetcast/contracts';
import { AgentErrorCode, InvalidIdError } from '../core/agent-errors';
import { acceptedTaskSchema } from '../core/assignment-check';
import { taskLifecycleSchema } from '../core/task-lifecycle';
import { readTextIfExists, removeStaleTempFiles, writeFileAtomic } from './atomic-file';

/**
 * What the agent keeps in its state directory, so that a restart is invisible to the control plane:
 *
 *   <stateDir>/device.json            the device ID, made once
 *   <stateDir>/tasks/<taskId>.json    each task: the assignment and its lifecycle state
 *   <stateDir>/seq/<taskId>.json      the last report sequence number of each task
 *   <stateDir>/scan-seq.json          the last inventory scan sequence number
 *
 * Every file is replaced atomically (write, flush, rename), so a crash leaves the old or the new one.
 */

const DEVICE_FILE = 'device.json';
const TASKS_DIR = 'tasks';
const SEQ_DIR = 'seq';
const SCAN_SEQ_FILE = 'scan-seq.json';
const JSON_SUFFIX = '.json';

const deviceFileSchema = z.object({ deviceId: idSchema, createdAt: isoTimeSchema });

export interface DeviceIdentity {
  deviceId: string;
  createdAt: string;
  /** Where the ID came from this time: configuration, the state file, or made just now. */
  source: 'config' | 'stored' | 'generated';
}

/** The state file exists but cannot be read as an identity: never silently replaced (that would be a new device). */
export class DeviceIdentityError extends FleetcastError {
  constructor(message: string) {
    super(AgentErrorCode.IdentityUnreadable, message);
    this.name = 'DeviceIdentityError';
  }
}

/**
 * Loads the device's identity from the state directory, making it on first start. A device ID given
 * by configuration wins and is stored, so that a later start without it keeps the same identity.
 * A generated ID is a random UUID: unique without coordination and valid as a subject token.
 */
export async function loadDeviceIdentity(stateDir: string, options: { deviceId?: string; now?: () => Date } = {}): Promise<DeviceIdentity> {
  await mkdir(stateDir, { recursive: true });
  await removeStaleTempFiles(stateDir);
  const path = join(stateDir, DEVICE_FILE);
  const now = options.now ?? (() => new Date());
  if (options.deviceId !== undefined && !idSchema.safeParse(options.deviceId).success) {
    throw new InvalidIdError(`configured device ID "${options.deviceId}" must be 1-64 characters of A-Z, a-z, 0-9, "_" or "-"`);
  }

  const stored = await readStoredIdentity(path);
  if (stored !== null && (options.deviceId === undefined || options.deviceId === stored.deviceId)) {
    return { ...stored, source: options.deviceId === undefined ? 'stored' : 'config' };
  }
  const identity = { deviceId: options.deviceId ?? randomUUID(), createdAt: now().toISOString() };
  await writeFileAtomic(path, JSON.stringify(identity, null, 2) + '\n');
  return { ...identity, source: options.deviceId === undefined ? 'generated' : 'config' };
}

async function readStoredIdentity(path: string): Promise<{ deviceId: string; createdAt: string } | null> {
  const text = await readTextIfExists(path);
  if (text === null) return null;
  let parsed: z.SafeParseReturnType<unknown, z.infer<typeof deviceFileSchema>>;
  try {
    parsed = deviceFileSchema.safeParse(JSON.parse(text));
  } catch (error) {
    throw new DeviceIdentityError(`${path} is not JSON (${(error as Error).message}); fix or remove it to make a new identity`);
  }
  if (!parsed.success) throw new DeviceIdentityError(`${path} holds no valid device identity; fix or remove it to make a new identity`);
  return parsed.data;
}

/** A file of the task store that cannot be trusted, where guessing would break an invariant. */
export class AgentStateError extends FleetcastError {
  constructor(message: string) {
    super(AgentErrorCode.StateUnreadable, message);
    this.name = 'AgentStateError';
  }
}

/**
 * A task as persisted: what the agent accepted from the verified assignment, and the lifecycle state
 * as last reduced. A task saved by an agent before assignments were signed reads too (without
 * `signedBy`), so that it can be failed instead of resumed.
 */
export const persistedTaskSchema = z.object({
  task: acceptedTaskSchema,
  lifecycle: taskLifecycleSchema,
});
export type PersistedTask = z.infer<typeof persistedTaskSchema>;

export interface LoadedTasks {
  tasks: PersistedTask[];
  /** Files that could not be read as a task (left in place for a human to look at). */
  unreadable: Array<{ file: string; error: string }>;
}

const seqFileSchema = z.object({ lastSeq: z.number().int().nonnegative() });
// A stored value at the bound leaves nothing to count on to: read as unreadable, so reseeded from the clock.
const scanSeqFileSchema = z.object({ lastScanSeq: z.number().int().nonnegative().max(SCAN_SEQ_MAX - 1) });

/** A scan sequence number, and whether the counter was (re)started from the clock to make it. */
export interface ScanSeq {
  scanSeq: number;
  /** `missing`: the first scan of this state dir; `unreadable`: the counter file was damaged and replaced. */
  seededFromClock: 'missing' | 'unreadable' | null;
}

/**
 * The agent's per-task memory: lifecycle states and report sequence numbers. `nextSeq` writes the
 * new number to disk before returning it, so a number once handed out is never handed out again,
 * whatever crashes afterwards; the tasks service can then drop any report whose seq it has seen.
 */
export class TaskStateStore {
  private readonly lastSeq = new Map<string, number>();
  private lastScanSeq?: number;
  private readonly pending = new Map<string, Promise<unknown>>();

  private constructor(private readonly stateDir: string) {}

  static async open(stateDir: string): Promise<TaskStateStore> {
    for (const dir of [join(stateDir, TASKS_DIR), join(stateDir, SEQ_DIR)]) {
      await mkdir(dir, { recursive: true });
      await removeStaleTempFiles(dir);
    }
    return new TaskStateStore(stateDir);
  }

  /** The next report sequence number of a task: 1, 2, 3 ... across restarts. */
  async nextSeq(taskId: string): Promise<number> {
    const path = this.file(SEQ_DIR, taskId);
    return this.serialize(`seq:${taskId}`, async () => {
      let last = this.lastSeq.get(taskId);
      if (last === undefined) last = await readSeq(path);
      const next = last + 1;
      // Never reached by counting (68 years at a report a second); refused rather than sent invalid.
      if (next > REPORT_SEQ_MAX) throw new AgentStateError(`${path}: task ${taskId} has used every report sequence number up to ${REPORT_SEQ_MAX}`);
      await writeFileAtomic(path, JSON.stringify({ lastSeq: next }));
      this.lastSeq.set(taskId, next);
      return next;
    });
  }

  /**
   * The next inventory scan sequence number, written to disk before it is returned (as `nextSeq`).
   * A counter and not the clock: a clock set back (a dead RTC battery, a correction) would make the
   * inventory ignore every scan as older until it caught up again. The counter starts from the clock
   * (`nowMs`), when the state dir has none: earlier agent versions sent the clock in milliseconds, so
   * the first counted scan still sorts after them; and since the clock gains a thousand a second and
   * the counter one a scan, a state dir that lost its counter (wiped, or a damaged file, replaced
   * here rather than stopping every scan) starts again above whatever the device sent before.
   */
  async nextScanSeq(nowMs: number): Promise<ScanSeq> {
    const path = join(this.stateDir, SCAN_SEQ_FILE);
    return this.serialize('scan-seq', async () => {
      let seededFromClock: ScanSeq['seededFromClock'] = null;
      let last = this.lastScanSeq;
      if (last === undefined) {
        const text = await readTextIfExists(path);
        const parsed = text === null ? null : scanSeqFileSchema.safeParse(safeJson(text));
        if (parsed?.success) last = parsed.data.lastScanSeq;
        else seededFromClock = text === null ? 'missing' : 'unreadable';
      }
      const next = last === undefined ? Math.max(0, Math.floor(nowMs)) : last + 1;
      if (next > SCAN_SEQ_MAX) throw new AgentStateError(`${path}: the scan sequence reached its bound ${SCAN_SEQ_MAX}`);
      await writeFileAtomic(path, JSON.stringify({ lastScanSeq: next }));
      this.lastScanSeq = next;
      return { scanSeq: next, seededFromClock };
    });
  }

  async save(record: PersistedTask): Promise<void> {
    const taskId = record.task.taskId;
    if (record.lifecycle.taskId !== taskId) throw new InvalidIdError(`lifecycle of ${record.lifecycle.taskId} saved under task ${taskId}`);
    const path = this.file(TASKS_DIR, taskId);
    await this.serialize(`task:${taskId}`, () => writeFileAtomic(path, JSON.stringify(record)));
  }

  async get(taskId: string): Promise<PersistedTask | null> {
    const path = this.file(TASKS_DIR, taskId);
    const text = await readTextIfExists(path);
    if (text === null) return null;
    return persistedTaskSchema.parse(JSON.parse(text));
  }

  /** Every persisted task, for resuming after a restart; sorted by task ID. */
  async list(): Promise<LoadedTasks> {
    const dir = join(this.stateDir, TASKS_DIR);
    const result: LoadedTasks = { tasks: [], unreadable: [] };
    for (const name of (await readdir(dir)).sort()) {
      if (!name.endsWith(JSON_SUFFIX)) continue;
      try {
        result.tasks.push(persistedTaskSchema.parse(JSON.parse(await readFile(join(dir, name), 'utf8'))));
      } catch (error) {
        result.unreadable.push({ file: name, error: (error as Error).message.slice(0, 500) });
      }
    }
    return result;
  }

  /**
   * Forgets a task's state (after its final report was acknowledged). Its sequence counter stays:
   * were the assignment delivered again, new reports must still sort after the old ones.
   */
  async remove(taskId: string): Promise<void> {
    const path = this.file(TASKS_DIR, taskId);
    await this.serialize(`task:${taskId}`, () => rm(path, { force: true }));
  }

  private file(dir: string, taskId: string): string {
    // The ID becomes a file name: the contract's alphabet has no '.', '/' or '\', so no escape from the directory.
    if (!idSchema.safeParse(taskId).success) throw new InvalidIdError(`"${taskId.slice(0, 80)}" is not a valid task ID`);
    return join(this.stateDir, dir, taskId + JSON_SUFFIX);
  }

  /** Runs work for one key after the previous work for that key, so that two writes never interleave. */
  private serialize<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.pending.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.pending.set(key, settled);
    void settled.then(() => {
      if (this.pending.get(key) === settled) this.pending.delete(key);
    });
    return next;
  }
}

async function readSeq(path: string): Promise<number> {
  const text = await readTextIfExists(path);
  if (text === null) return 0;
  const parsed = seqFileSchema.safeParse(safeJson(text));
  if (!parsed.success) {
    // Restarting at 0 would make the service drop every later report as old; refuse loudly instead.
    throw new AgentStateError(`${path} holds no sequence number; remove it only if the task was never reported`);
  }
  return parsed.data.lastSeq;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
