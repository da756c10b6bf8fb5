import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  ApiClient,
  ControlPlane,
  createTestDatabase,
  freePort,
  NatsServer,
  REPO_ROOT,
  startAgentProcess,
  startControlPlane,
  startNatsServer,
  stopAll,
  TestDatabase,
  waitFor,
} from '@fleetcast/testing';

/**
 * The `fleetcast` admin CLI, the real binary as a child process, against the whole stack with two
 * agents: login, an upload with its progress, a task watched to its end, `--json` parsed, and the
 * exit codes a script relies on (1 refused or failed, 2 usage, 3 unreachable).
 */
const MB = 1024 * 1024;
const TOKEN = `e2e-cli-${randomBytes(8).toString('hex')}`;
const CLI = join(REPO_ROOT, 'apps/cli/dist/src/main.js');
const DEVICES = ['cli-dev-1', 'cli-dev-2'];

let nats: NatsServer;
let db: TestDatabase;
let work: string;
let cp: ControlPlane;
let api: ApiClient;
/** XDG_CONFIG_HOME of every run: the CLI's config lands in <it>/fleetcast/config.json. */
let configHome: string;

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the binary to its end; `onStderr` sees its progress as it comes (to interrupt it). */
function fleetcast(args: string[], options: { env?: Record<string, string>; onStderr?: (text: string, kill: () => void) => void } = {}): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: configHome, ...options.env };
  if (!options.env?.FLEETCAST_SERVER) delete env.FLEETCAST_SERVER;
  if (!options.env?.FLEETCAST_TOKEN) delete env.FLEETCAST_TOKEN;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
      options.onStderr?.(stderr, () => child.kill('SIGKILL'));
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const describeRun = (r: CliRun) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** A file of `size` pseudo-random bytes (written in 1 MiB pieces) and its SHA-256. */
async function makeFile(name: string, size: number): Promise<{ path: string; sha256: string }> {
  const path = join(work, name);
  const hash = createHash('sha256');
  await pipeline(
    (function* () {
      for (let done = 0; done < size; done += MB) {
        const piece = randomBytes(Math.min(MB, size - done));
        hash.update(piece);
        yield piece;
      }
    })(),
    createWriteStream(path),
  );
  return { path, sha256: hash.digest('hex') };
}

const markerOf = (id: string) => join(work, 'markers', `${id}.installed`);

describe('fleetcast CLI against the stack', () => {
  before(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase('e2e_cli');
    work = await mkdtemp(join(tmpdir(), 'fleetcast-e2e-cli-'));
    configHome = join(work, 'config-home');
    await mkdir(join(work, 'markers'));
    cp = await startControlPlane({ natsUrl: nats.url, trustDir: nats.trust?.dir, databaseUrl: db.url, workDir: join(work, 'control-plane'), apiToken: TOKEN });
    api = new ApiClient(cp.gatewayUrl, TOKEN);
    for (const id of DEVICES) {
      const proc = await startAgentProcess({
        natsUrl: nats.url,
        controlPlane: cp,
        deviceId: id,
        dir: join(work, 'agents', id),
        // Every device downloads from the origin (the LAN session has tests of its own).
        args: ['--no-multicast', '--installer-env', 'MARKER_FILE'],
        env: { MARKER_FILE: markerOf(id) },
      });
      await proc.waitForOutput(/agent ready/, { timeoutMs: 30_000 });
    }
    await waitFor(async () => (await api.ok('GET', '/v1/devices')).total === DEVICES.length, { timeoutMs: 20_000, description: 'the inventory knows both agents' });
  });

  after(async () => {
    await stopAll();
    await db?.drop();
    if (work && !process.env.FLEETCAST_KEEP_TEST_FILES) await rm(work, { recursive: true, force: true });
    else if (work) console.log(`kept ${work}`);
  });

  test('login: a refused token is not saved (exit 1, the API message); a good one is, mode 0600', async () => {
    const configFile = join(configHome, 'fleetcast', 'config.json');
    const refused = await fleetcast(['login', '--server', cp.gatewayUrl, '--token', 'not-a-token']);
    assert.equal(refused.code, 1, describeRun(refused));
    assert.match(refused.stderr, /AUTH\.UNAUTHORIZED: /);
    assert.equal(refused.stdout, '');
    assert.equal(existsSync(configFile), false, 'nothing saved');

    const ok = await fleetcast(['login', '--server', `${cp.gatewayUrl}/`, '--token', TOKEN, '--json']);
    assert.equal(ok.code, 0, describeRun(ok));
    assert.deepEqual(JSON.parse(ok.stdout), { server: cp.gatewayUrl, config: configFile });
    assert.equal(statSync(configFile).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(configFile, 'utf8')), { server: cp.gatewayUrl, token: TOKEN });

    // A token given in the environment overrides the saved one, and is refused the same way.
    const envToken = await fleetcast(['devices', 'list'], { env: { FLEETCAST_TOKEN: 'revoked' } });
    assert.equal(envToken.code, 1, describeRun(envToken));
    assert.match(envToken.stderr, /AUTH\.UNAUTHORIZED/);
  });

  test('packages upload: 6 MB with progress to 100 %, ready with the SHA-256 computed first; --json parsed', async () => {
    const file = await makeFile('tool.bin', 6 * MB);
    const run = await fleetcast([
      'packages', 'upload', file.path,
      '--name', 'cli-tool', '--version', '1.0', '--platform', 'linux',
      '--install-command', '/bin/sh', '--arg', '-c', '--arg', 'sha256sum "$FLEETCAST_PACKAGE_PATH" > "$MARKER_FILE"',
      '--timeout-seconds', '60', '--json',
    ]);
    assert.equal(run.code, 0, describeRun(run));
    const pkg = JSON.parse(run.stdout);
    assert.equal(pkg.status, 'ready');
    assert.equal(pkg.contentId, file.sha256);
    assert.equal(pkg.size, 6 * MB);
    assert.deepEqual(pkg.installArgs, ['-c', 'sha256sum "$FLEETCAST_PACKAGE_PATH" > "$MARKER_FILE"']);
    // Not a terminal: plain progress lines on stderr, the last at the file's size.
    assert.match(run.stderr, new RegExp(`^upload 6\\.0 MiB / 6\\.0 MiB \\(100%\\) .* ETA 0s \\[${6 * MB} bytes\\]$`, 'm'));
    assert.match(run.stderr, new RegExp(`sha256 ${file.sha256}`));

    const list = await fleetcast(['packages', 'list', '--json']);
    assert.equal(list.code, 0, describeRun(list));
    assert.ok(JSON.parse(list.stdout).items.some((p: { id: string }) => p.id === pkg.id));
    const show = await fleetcast(['packages', 'show', pkg.id]);
    assert.equal(show.code, 0, describeRun(show));
    assert.match(show.stdout, new RegExp(`^sha256: +${file.sha256}$`, 'm'));
    assert.match(show.stdout, /^status: +ready$/m);

    // The inventory, as a script reads it.
    const devices = JSON.parse((await fleetcast(['devices', 'list', '--json'])).stdout);
    assert.deepEqual(devices.items.map((d: { id: string }) => d.id).sort(), DEVICES);
    const subnets = JSON.parse((await fleetcast(['subnets', 'list', '--json'])).stdout);
    assert.ok(subnets.items.length >= 1);
    assert.deepEqual(JSON.parse((await fleetcast(['webhooks', 'list', '--json'])).stdout), { items: [], total: 0 });

    // What the distribution would cost, asked before it is made: the real planner over the real inventory.
    const planned = await fleetcast(['plan', '--package', pkg.id, '--targets', DEVICES.join(','), '--json']);
    assert.equal(planned.code, 0, describeRun(planned));
    const plan = JSON.parse(planned.stdout);
    assert.deepEqual([plan.packageId, plan.packageBytes, plan.devices, plan.topologyVersion], [pkg.id, 6 * MB, 2, null]);
    assert.equal(plan.subnets.reduce((n: number, s: { devices: number }) => n + s.devices, 0), 2);
    assert.equal(plan.withoutSharing.originBytes, 2 * 6 * MB);
    assert.ok(plan.withSharing.seconds > 0 && plan.withSharing.wanBytes <= plan.withoutSharing.wanBytes, planned.stdout);
    const readable = await fleetcast(['plan', '--package', pkg.id, '--targets', DEVICES.join(','), '--no-multicast']);
    assert.equal(readable.code, 0, describeRun(readable));
    assert.match(readable.stdout, /^without sharing: +12\.\d MiB over the WAN, done in \d+s$/m);
    const unknown = await fleetcast(['plan', '--package', pkg.id, '--targets', 'no-such-device']);
    assert.equal(unknown.code, 1, describeRun(unknown));
    assert.match(unknown.stderr, /INVENTORY\.DEVICE_NOT_FOUND: 1 target device\(s\) unknown to the inventory: no-such-device/);

    // Installed on both agents, watched to the end.
    const watched = await fleetcast(['tasks', 'create', '--package', pkg.id, '--action', 'install', ...DEVICES.flatMap((d) => ['--device', d]), '--watch', '--interval', '0.5', '--timeout', '120', '--json']);
    assert.equal(watched.code, 0, describeRun(watched));
    const task = JSON.parse(watched.stdout);
    assert.equal(task.summary.counts.succeeded, 2, watched.stdout);
    assert.equal(task.summary.counts.failed, 0);
    assert.equal(task.status, 'completed');
    assert.ok(task.summary.bytes.origin >= 2 * 6 * MB, `origin bytes ${task.summary.bytes.origin}`);
    assert.match(watched.stderr, /^task \S+: 2\/2 done: 2 succeeded \(of 2\); origin /m);
    for (const id of DEVICES) assert.match(readFileSync(markerOf(id), 'utf8'), new RegExp(`^${file.sha256} `), `${id} installed the verified file`);

    const shown = await fleetcast(['tasks', 'show', task.id]);
    assert.equal(shown.code, 0, describeRun(shown));
    assert.match(shown.stdout, /^devices: +2 succeeded \(of 2\)$/m);
    const tasks = JSON.parse((await fleetcast(['tasks', 'list', '--json'])).stdout);
    assert.ok(tasks.items.some((t: { id: string }) => t.id === task.id));

    // The fleet-wide report counts what the devices received, all of it from the origin here.
    const report = await fleetcast(['reports', 'wan-savings', '--json']);
    assert.equal(report.code, 0, describeRun(report));
    const totals = JSON.parse(report.stdout).totals;
    assert.ok(totals.bytes.origin >= 2 * 6 * MB, report.stdout);
    assert.equal(totals.savedBytes, totals.bytes.multicast + totals.bytes.peer);
  });

  test('tasks create --watch: exit 1 when a device fails, with the reason', async () => {
    const file = await makeFile('fails.bin', 1 * MB);
    const upload = await fleetcast(['packages', 'upload', file.path, '--name', 'cli-fails', '--version', '1', '--platform', 'linux', '--install-command', '/bin/sh', '--arg', '-c', '--arg', 'exit 3', '--json']);
    assert.equal(upload.code, 0, describeRun(upload));
    const pkg = JSON.parse(upload.stdout);
    const watched = await fleetcast(['tasks', 'create', '--package', pkg.id, '--action', 'install', '--device', DEVICES[0], '--watch', '--interval', '0.5', '--timeout', '120']);
    assert.equal(watched.code, 1, describeRun(watched));
    assert.match(watched.stdout, /^reasons:\n  failed \S+ \(1 device\): .+$/m);
    assert.match(watched.stdout, /^1 of 1 devices failed$/m);
  });

  test('an interrupted upload leaves the package awaiting content; uploading again with --package completes it', async () => {
    // Large enough that the upload is still running when its first progress line is read.
    const file = await makeFile('big.bin', 160 * MB);
    let packageId: string | undefined;
    const interrupted = await fleetcast(
      ['packages', 'upload', file.path, '--name', 'cli-big', '--version', '1', '--platform', 'linux', '--install-command', '/bin/true'],
      {
        onStderr: (text, kill) => {
          packageId ??= /^package (\S+) created/m.exec(text)?.[1];
          if (packageId && /^upload /m.test(text)) kill();
        },
      },
    );
    assert.equal(interrupted.code, null, `killed mid-upload: ${describeRun(interrupted)}`);
    assert.ok(packageId, interrupted.stderr);
    const waiting = JSON.parse((await fleetcast(['packages', 'show', packageId, '--json'])).stdout);
    assert.equal(waiting.status, 'awaiting-content');

    const again = await fleetcast(['packages', 'upload', file.path, '--package', packageId, '--json']);
    assert.equal(again.code, 0, describeRun(again));
    const ready = JSON.parse(again.stdout);
    assert.deepEqual([ready.id, ready.status, ready.contentId, ready.size], [packageId, 'ready', file.sha256, 160 * MB]);
    assert.match(again.stderr, new RegExp(`\\(100%\\) .* \\[${160 * MB} bytes\\]$`, 'm'));
    await rm(file.path);
  });

  test('exit codes: 3 when the server cannot be reached, 2 for usage and what the server does not support', async () => {
    const closedPort = await freePort('127.0.0.1');
    const unreachable = await fleetcast(['packages', 'list', '--json'], { env: { FLEETCAST_SERVER: `http://127.0.0.1:${closedPort}` } });
    assert.equal(unreachable.code, 3, describeRun(unreachable));
    assert.match(unreachable.stderr, /CLI\.UNREACHABLE: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    assert.equal(unreachable.stdout, '');

    const usage = await fleetcast(['tasks', 'create', '--package', 'p', '--action', 'install']);
    assert.equal(usage.code, 2, describeRun(usage));
    assert.match(usage.stderr, /needs targets/);
    const cancel = await fleetcast(['tasks', 'cancel', 'task-1']);
    assert.equal(cancel.code, 2, describeRun(cancel));
    assert.match(cancel.stderr, /not supported by this server yet/);

    const missing = await fleetcast(['packages', 'show', 'no-such-package']);
    assert.equal(missing.code, 1, describeRun(missing));
    assert.match(missing.stderr, /^fleetcast: TASKS\.\S+: /m);
  });
});
