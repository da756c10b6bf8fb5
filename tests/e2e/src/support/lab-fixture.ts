import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  createLab,
  createTestDatabase,
  destroyLab,
  destroyStaleLabs,
  labAvailable,
  labNameForThisProcess,
  listLabResources,
  startLabStack,
  stopAll,
  type Lab,
  type LabAgent,
  type LabAvailability,
  type LabSpec,
  type LabStack,
  type LabStackOptions,
  type TestDatabase,
} from '@fleetcast/testing';

export interface LabFixtureOptions {
  /** Short tag of the lab's name; the name also carries this process's pid (see `labNameForThisProcess`). */
  tag: string;
  /** The control plane's database, created for this file and dropped after it. */
  database: string;
  /** The lab, given its name. Each file has address ranges of its own: every lab joins the host. */
  spec: (name: string) => LabSpec;
  /** What goes untested when the lab is unavailable, for the skip message. */
  untested: string;
  /** Agent options of the stack. */
  stack?: Pick<LabStackOptions, 'agentArgs' | 'agentEnv' | 'withoutAgent'>;
}

/** One lab test file's lab and stack, built before its tests and torn down after them, also on failure. */
export interface LabFixture {
  readonly name: string;
  /** Holds the services' and every agent's files. */
  readonly workDir: string;
  /**
   * The stack for a test, or undefined after skipping the test when this machine cannot build a
   * lab (no root, no `ip`, ...): `const stack = fixture.stackFor(t); if (!stack) return;`.
   */
  stackFor(t: TestContext): LabStack | undefined;
  /** Registers the test that stops the stack, destroys the lab and checks that nothing of it is left; call it last. */
  teardownTest(): void;
}

/**
 * Registers, in the current `describe`, the hooks that build a lab and start the Fleetcast stack
 * on it (NATS and the control plane on the host, an agent per device) and that tear both down.
 */
export function useLabFixture(options: LabFixtureOptions): LabFixture {
  const name = labNameForThisProcess(options.tag);
  let availability: LabAvailability = { ok: false, reason: 'not checked yet' };
  let db: TestDatabase | undefined;
  let workDir = '';
  let lab: Lab | undefined;
  let stack: LabStack | undefined;

  before(async () => {
    availability = await labAvailable();
    if (!availability.ok) return;
    // A run killed outright leaves its lab, whose host address would block these ranges.
    const stale = await destroyStaleLabs(options.tag);
    if (stale.length > 0) console.log(`removed labs of dead runs: ${stale.join(', ')}`);
    db = await createTestDatabase(options.database);
    workDir = await mkdtemp(join(tmpdir(), `fleetcast-lab-${options.tag}-`));
    lab = await createLab(options.spec(name));
    stack = await startLabStack({ lab, databaseUrl: db.url, apiToken: randomBytes(16).toString('hex'), workDir, ...options.stack });
  });

  after(async () => {
    await stack?.stop();
    await stopAll();
    await lab?.destroy();
    await db?.drop();
    // FLEETCAST_KEEP_TEST_FILES=1 keeps every agent's log, state and cache for a post-mortem.
    if (workDir && !process.env.FLEETCAST_KEEP_TEST_FILES) await rm(workDir, { recursive: true, force: true });
    else if (workDir) console.log(`kept ${workDir}`);
  });

  const skipped = (t: TestContext): boolean => {
    if (availability.ok) return false;
    t.skip(`network lab unavailable here, so ${options.untested}: ${availability.reason}`);
    return true;
  };

  return {
    name,
    get workDir() {
      return workDir;
    },
    stackFor(t) {
      return skipped(t) ? undefined : stack;
    },
    teardownTest() {
      test('teardown: the stack stops and no namespace, link or route of the lab is left', { timeout: 30_000 }, async (t) => {
        if (skipped(t) || !lab) return;
        const host = lab.host;
        await stack?.stop();
        await lab.destroy();
        assert.deepEqual(await listLabResources(name), { namespaces: [], links: [], nftTables: [] });
        const { stdout: netns } = await promisify(execFile)('ip', ['netns', 'list']);
        assert.ok(!netns.includes(`${name}-`), netns);
        const { stdout: routes } = await promisify(execFile)('ip', ['-4', 'route', 'show', 'table', 'all']);
        for (const route of host?.routes ?? []) assert.ok(!routes.includes(route.subnet), `route to ${route.subnet} left:\n${routes}`);
        // Idempotent: the after hook's destroy finds nothing to do.
        await destroyLab(name);
      });
    },
  };
}

export async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Each agent holds a verified copy: read where it keeps it (the namespaces share this machine's files). */
export async function assertVerifiedCopies(agents: readonly LabAgent[], contentId: string): Promise<void> {
  for (const agent of agents) {
    assert.equal(await sha256Of(join(agent.cacheDir, 'content', contentId)), contentId, `${agent.deviceId}'s cached copy`);
  }
}

/** The agent's JSON log lines with this message and task ID, parsed. */
export async function agentLogLines(logFile: string, message: string, taskId: string): Promise<Array<Record<string, unknown>>> {
  const quoted = JSON.stringify(message);
  return (await readFile(logFile, 'utf8'))
    .split('\n')
    .filter((l) => l.includes(quoted) && l.includes(taskId))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((entry) => entry.msg === message);
}

/** The roles an agent's election settled on for the task, from its log ("LAN session role"). */
export async function rolesLogged(logFile: string, taskId: string): Promise<string[]> {
  return (await agentLogLines(logFile, 'LAN session role', taskId)).map((l) => l.role as string);
}
