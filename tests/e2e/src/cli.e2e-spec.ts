import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
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

  test('tasks retry --watch runs the failed device again to success; the history records the retry', async () => {
    const file = await makeFile('flaky.bin', 1 * MB);
    // Fails the first time it runs on a device, succeeds the next.
    const flaky = 'if [ -e "$MARKER_FILE.once" ]; then exit 0; fi; touch "$MARKER_FILE.once"; exit 3';
    const upload = await fleetcast(['packages', 'upload', file.path, '--name', 'cli-flaky', '--version', '1', '--platform', 'linux', '--install-command', '/bin/sh', '--arg', '-c', '--arg', flaky, '--json']);
    assert.equal(upload.code, 0, describeRun(upload));
    const pkg = JSON.parse(upload.stdout);
    const first = await fleetcast(['tasks', 'create', '--package', pkg.id, '--action', 'install', '--device', DEVICES[1], '--watch', '--timeout', '120', '--json']);
    assert.equal(first.code, 1, describeRun(first));
    const task = JSON.parse(first.stdout);
    assert.equal(task.summary.counts.failed, 1);

    const retried = await fleetcast(['tasks', 'retry', task.id, '--devices', DEVICES[1], '--watch', '--timeout', '120', '--json']);
    assert.equal(retried.code, 0, describeRun(retried));
    const after = JSON.parse(retried.stdout);
    assert.deepEqual([after.status, after.summary.counts.succeeded, after.summary.counts.failed], ['completed', 1, 0]);
    assert.match(retried.stderr, /retried 1 device\(s\): cli-dev-2/);
    const history = await api.ok('GET', `/v1/tasks/${task.id}/devices/${DEVICES[1]}/history`);
    const states = history.items.map((h: { state: string; reason: { code: string } | null }) => `${h.state}${h.reason ? `:${h.reason.code}` : ''}`);
    assert.ok(states.includes('pending:TASK.RETRIED'), states.join(' '));
    assert.equal(states.at(-1), 'succeeded', states.join(' '));

    const again = await fleetcast(['tasks', 'retry', task.id]);
    assert.equal(again.code, 1, describeRun(again));
    assert.match(again.stderr, /TASKS\.NOTHING_TO_RETRY/);
  });

  test('the live event stream carries the real changes of a task: its agents, through the tasks service and NATS', async () => {
    const file = await makeFile('live.bin', 2 * MB);
    const pkg = JSON.parse((await fleetcast(['packages', 'upload', file.path, '--name', 'cli-live', '--version', '1', '--platform', 'linux', '--install-command', '/bin/true', '--json'])).stdout);
    // Every task's events, the token in the query string as a browser's EventSource sends it.
    const abort = new AbortController();
    const res = await fetch(`${cp.gatewayUrl}/v1/events?access_token=${TOKEN}`, { signal: abort.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events: Array<{ event: string; data: any }> = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let at: number;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const event = /^event: (.+)$/m.exec(frame)?.[1];
          const data = /^data: (.+)$/m.exec(frame)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
      }
    })().catch(() => undefined);
    try {
      const task = await api.ok('POST', '/v1/tasks', { packageId: pkg.id, action: 'install', targets: { deviceIds: DEVICES } });
      await waitFor(() => events.some((e) => e.event === 'task' && e.data.taskId === task.id && e.data.status === 'completed'), { timeoutMs: 60_000, description: 'the task completed, live' });
      const mine = events.filter((e) => e.data.taskId === task.id);
      for (const id of DEVICES) {
        const states = mine.filter((e) => e.event === 'device' && e.data.deviceId === id).map((e) => e.data.state);
        assert.equal(states.at(-1), 'succeeded', `${id}: ${states.join(' ')}`);
        const last = mine.filter((e) => e.event === 'device' && e.data.deviceId === id).at(-1)!;
        assert.equal(last.data.bytes.origin, 2 * MB, 'the bytes by source of the device');
      }
      const done = mine.filter((e) => e.event === 'task').at(-1)!;
      assert.deepEqual([done.data.counts.succeeded, done.data.total, done.data.bytes.origin], [2, 2, 4 * MB]);
    } finally {
      abort.abort();
      await reading;
    }
  });

  test('tasks cancel: unfinished devices cancelled (an offline one too), a second cancel and a retry refused', async () => {
    const file = await makeFile('cancel.bin', 1 * MB);
    const upload = await fleetcast(['packages', 'upload', file.path, '--name', 'cli-cancel', '--version', '1', '--platform', 'linux', '--install-command', '/bin/true', '--json']);
    const pkg = JSON.parse(upload.stdout);
    // One agent that runs it, one device that never comes online: the task cannot finish on its own.
    const created = await fleetcast(['tasks', 'create', '--package', pkg.id, '--action', 'cache-only', '--device', DEVICES[0], '--device', 'cli-offline-dev', '--json']);
    assert.equal(created.code, 0, describeRun(created));
    const task = JSON.parse(created.stdout);
    await waitFor(async () => (await api.ok('GET', `/v1/tasks/${task.id}/summary`)).counts.succeeded === 1, { timeoutMs: 60_000, description: 'the online device done' });

    const cancelled = await fleetcast(['tasks', 'cancel', task.id, '--json']);
    assert.equal(cancelled.code, 0, describeRun(cancelled));
    const body = JSON.parse(cancelled.stdout);
    assert.deepEqual([body.status, body.summary.counts.succeeded, body.summary.counts.cancelled, body.summary.total], ['cancelled', 1, 1, 2]);
    // A watch of a cancelled task settles at once, from the live stream's snapshot: exit 1 (not everything happened).
    const watched = await fleetcast(['tasks', 'show', task.id, '--watch', '--timeout', '30']);
    assert.equal(watched.code, 1, describeRun(watched));
    assert.match(watched.stdout, /1 of 2 devices cancelled/);

    const twice = await fleetcast(['tasks', 'cancel', task.id]);
    assert.equal(twice.code, 1, describeRun(twice));
    assert.match(twice.stderr, /^fleetcast: TASKS\.TASK_FINISHED: task \S+ is already cancelled/m);
    const retry = await fleetcast(['tasks', 'retry', task.id]);
    assert.equal(retry.code, 1, describeRun(retry));
    assert.match(retry.stderr, /TASKS\.TASK_CANCELLED/);
    const unknown = await fleetcast(['tasks', 'cancel', 'no-such-task']);
    assert.equal(unknown.code, 1, describeRun(unknown));
    assert.match(unknown.stderr, /TASKS\.TASK_NOT_FOUND/);
  });

  test('an upload killed at about 60 % resumes where the server stands when the same command runs again', async () => {
    const size = 64 * MB;
    const file = await makeFile('big.bin', size);
    const args = ['packages', 'upload', file.path, '--name', 'cli-big', '--version', '1', '--platform', 'linux', '--install-command', '/bin/true'];
    // The origin keeps what it received in <store>/uploads/<id>.part: kill the CLI once that holds 60 %.
    const uploadsDir = join(work, 'control-plane', 'origin-store', 'uploads');
    const received = () => (existsSync(uploadsDir) ? readdirSync(uploadsDir).filter((n) => n.endsWith('.part')).map((n) => statSync(join(uploadsDir, n)).size) : []);
    const before = new Set(existsSync(uploadsDir) ? readdirSync(uploadsDir) : []);
    let watcher: NodeJS.Timeout | undefined;
    const interrupted = await new Promise<CliRun>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, XDG_CONFIG_HOME: configHome }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      watcher = setInterval(() => {
        if (received().some((bytes) => bytes >= 0.6 * size)) child.kill('SIGKILL');
      }, 2);
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    clearInterval(watcher);
    assert.equal(interrupted.code, null, `killed mid-upload: ${describeRun(interrupted)}`);
    const packageId = /^package (\S+) created/m.exec(interrupted.stderr)?.[1];
    assert.ok(packageId, interrupted.stderr);
    assert.equal(JSON.parse((await fleetcast(['packages', 'show', packageId, '--json'])).stdout).status, 'awaiting-content');
    // Remembered next to the config, owner-only.
    const stateFile = join(configHome, 'fleetcast', 'uploads.json');
    assert.equal(statSync(stateFile).mode & 0o777, 0o600);
    assert.equal(JSON.parse(readFileSync(stateFile, 'utf8')).uploads[0].packageId, packageId);
    const partNames = readdirSync(uploadsDir).filter((n) => n.endsWith('.part') && !before.has(n));
    assert.equal(partNames.length, 1, `one upload in progress: ${partNames.join(', ')}`);

    const again = await fleetcast([...args, '--json']);
    assert.equal(again.code, 0, describeRun(again));
    const ready = JSON.parse(again.stdout);
    assert.deepEqual([ready.id, ready.status, ready.contentId, ready.size], [packageId, 'ready', file.sha256, size]);
    const resumedAt = Number(/^resuming the upload of .* at byte (\d+) of \d+/m.exec(again.stderr)?.[1]);
    const sent = Number(/^upload complete: (\d+) bytes sent by this run, resumed at byte (\d+)$/m.exec(again.stderr)?.[1]);
    assert.ok(resumedAt >= 0.5 * size, `resumed at ${resumedAt} of ${size}\n${again.stderr}`);
    assert.equal(sent, size - resumedAt, 'only the rest was sent');
    assert.ok(sent < size);
    assert.match(again.stderr, new RegExp(`\\(100%\\) .* \\[${size} bytes\\]$`, 'm'));
    assert.deepEqual(JSON.parse(readFileSync(stateFile, 'utf8')).uploads, [], 'nothing left to resume');
    await rm(file.path);
  });

  test('an upload rides out a gateway restart: the CLI waits, asks for the offset and sends the rest', async () => {
    const size = 48 * MB;
    const file = await makeFile('restart.bin', size);
    const uploadsDir = join(work, 'control-plane', 'origin-store', 'uploads');
    const before = new Set(existsSync(uploadsDir) ? readdirSync(uploadsDir) : []);
    const ours = () => (existsSync(uploadsDir) ? readdirSync(uploadsDir).filter((n) => n.endsWith('.part') && !before.has(n)) : []);
    let restarted: Promise<unknown> | undefined;
    const watcher = setInterval(() => {
      const part = ours()[0];
      if (restarted || !part || statSync(join(uploadsDir, part)).size < 0.3 * size) return;
      // Killed, not stopped: a graceful stop would let the upload in flight finish first.
      restarted = cp.processes.gateway.kill().then(() => cp.start('gateway'));
    }, 2);
    const run = await fleetcast(['packages', 'upload', file.path, '--name', 'cli-restart', '--version', '1', '--platform', 'linux', '--install-command', '/bin/true', '--json']);
    clearInterval(watcher);
    await restarted;
    assert.ok(restarted, 'the gateway was restarted mid-upload');
    assert.equal(run.code, 0, describeRun(run));
    assert.match(run.stderr, /^upload interrupted at about byte \d+ \(.*\); trying again in 1 s \(1\/12\)$/m);
    const pkg = JSON.parse(run.stdout);
    assert.deepEqual([pkg.status, pkg.contentId, pkg.size], ['ready', file.sha256, size]);
    await rm(file.path);
  });

  test('packages list filters and packages delete: refused while a task uses it, then deleted with its content', async () => {
    const file = await makeFile('deleted.bin', 2 * MB);
    const upload = await fleetcast(['packages', 'upload', file.path, '--name', 'cli-delete-me', '--version', '1', '--platform', 'linux', '--install-command', '/bin/true', '--json']);
    assert.equal(upload.code, 0, describeRun(upload));
    const pkg = JSON.parse(upload.stdout);
    const listed = JSON.parse((await fleetcast(['packages', 'list', '--name', 'DELETE-ME', '--status', 'ready', '--json'])).stdout);
    assert.deepEqual(listed.items.map((p: { id: string }) => p.id), [pkg.id]);

    const scheduled = await api.ok('POST', '/v1/tasks', { packageId: pkg.id, action: 'cache-only', targets: { deviceIds: [DEVICES[0]] }, startAt: new Date(Date.now() + 86_400_000).toISOString() });
    const refused = await fleetcast(['packages', 'delete', pkg.id]);
    assert.equal(refused.code, 1, describeRun(refused));
    assert.match(refused.stderr, new RegExp(`TASKS\\.PACKAGE_IN_USE: .*${scheduled.id}`));

    const other = await fleetcast(['packages', 'upload', file.path, '--name', 'cli-delete-me-too', '--version', '1', '--platform', 'linux', '--install-command', '/bin/true', '--json', '--no-resume']);
    assert.equal(other.code, 0, describeRun(other));
    const otherPkg = JSON.parse(other.stdout);
    const deleted = await fleetcast(['packages', 'delete', otherPkg.id, '--json']);
    assert.equal(deleted.code, 0, describeRun(deleted));
    // The same bytes are still the first package's: the origin keeps them.
    assert.deepEqual([JSON.parse(deleted.stdout).id, JSON.parse(deleted.stdout).removedContentId], [otherPkg.id, null]);
    const gone = await fleetcast(['packages', 'show', otherPkg.id]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /TASKS\.PACKAGE_NOT_FOUND/);
    await rm(file.path);
  });

  test('exit codes: 3 when the server cannot be reached, 2 for usage', async () => {
    const closedPort = await freePort('127.0.0.1');
    const unreachable = await fleetcast(['packages', 'list', '--json'], { env: { FLEETCAST_SERVER: `http://127.0.0.1:${closedPort}` } });
    assert.equal(unreachable.code, 3, describeRun(unreachable));
    assert.match(unreachable.stderr, /CLI\.UNREACHABLE: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    assert.equal(unreachable.stdout, '');

    const usage = await fleetcast(['tasks', 'create', '--package', 'p', '--action', 'install']);
    assert.equal(usage.code, 2, describeRun(usage));
    assert.match(usage.stderr, /needs targets/);
    const plan = await fleetcast(['plan', '--package', 'p']);
    assert.equal(plan.code, 2, describeRun(plan));
    assert.match(plan.stderr, /plan needs targets/);

    const missing = await fleetcast(['packages', 'show', 'no-such-package']);
    assert.equal(missing.code, 1, describeRun(missing));
    assert.match(missing.stderr, /^fleetcast: TASKS\.\S+: /m);
  });
});
