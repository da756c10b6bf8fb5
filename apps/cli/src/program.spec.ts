import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskSummary } from '@fleetcast/contracts';
import { runCli } from './program';

/**
 * The command line run in-process against a fake fetch: which requests each command sends, what it
 * prints where, and its exit code. The real binary against the real stack is the e2e test's.
 */
interface Sent {
  method: string;
  url: string;
  body: unknown;
  headers: Record<string, string>;
}

function harness(answer: (req: Sent) => { status: number; body?: unknown } | Response | Error) {
  const sent: Sent[] = [];
  const out: string[] = [];
  const err: string[] = [];
  let now = 0;
  const fakeFetch = (async (url: string, init: RequestInit) => {
    let body: unknown;
    if (typeof init.body === 'string') body = JSON.parse(init.body);
    else if (init.body) {
      let bytes = 0;
      for await (const chunk of init.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
      body = { streamedBytes: bytes };
    }
    const req = { method: init.method ?? 'GET', url, body, headers: init.headers as Record<string, string> };
    sent.push(req);
    const a = answer(req);
    if (a instanceof Error) throw a;
    if (a instanceof Response) return a;
    return new Response(a.body === undefined ? null : JSON.stringify(a.body), { status: a.status });
  }) as unknown as typeof fetch;
  const run = (...argv: string[]) =>
    runCli(argv, {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s) },
      env: { FLEETCAST_SERVER: 'http://gw.test', FLEETCAST_TOKEN: 'tok' },
      homeDir: '/nonexistent',
      now: () => now,
      sleep: async (ms) => {
        now += ms;
      },
      fetch: fakeFetch,
    });
  return { run, sent, out: () => out.join(''), err: () => err.join('') };
}

const summary = (counts: Partial<TaskSummary['counts']>): TaskSummary => {
  const full = { pending: 0, queued: 0, downloading: 0, cached: 0, installing: 0, succeeded: 0, failed: 0, cancelled: 0, ...counts };
  return { taskId: 't-1', total: 2, counts: full, bytes: { origin: 0, parent: 0, multicast: 0, peer: 0 }, subnets: [] };
};
const task = (s: TaskSummary) => ({ id: 't-1', name: 'n', packageId: 'p-1', action: 'install', status: 'active', profileId: null, startAt: 'x', createdAt: 'x', summary: s });

describe('fleetcast command line', () => {
  test('tasks create sends the request its options describe; --json prints the answer alone', async () => {
    const h = harness(() => ({ status: 201, body: task(summary({ pending: 2 })) }));
    const code = await h.run('tasks', 'create', '--package', 'p-1', '--action', 'install', '--device', 'd-1', '--device', 'd-2', '--profile', 'prof', '--json');
    assert.equal(code, 0, h.err());
    assert.deepEqual(h.sent.map((r) => [r.method, r.url, r.body]), [
      ['POST', 'http://gw.test/v1/tasks', { packageId: 'p-1', action: 'install', targets: { deviceIds: ['d-1', 'd-2'] }, profileId: 'prof' }],
    ]);
    assert.equal(h.sent[0].headers.authorization, 'Bearer tok');
    assert.equal(JSON.parse(h.out()).id, 't-1');
  });

  test('--watch polls the summary until every device is final; exit 1 when one failed', async () => {
    const polls = [summary({ pending: 2 }), summary({ downloading: 1, succeeded: 1 }), summary({ failed: 1, succeeded: 1 })];
    const h = harness((req) => {
      if (req.method === 'POST') return { status: 201, body: task(polls[0]) };
      if (req.url.endsWith('/summary')) return { status: 200, body: polls.shift() };
      return { status: 200, body: task(summary({ failed: 1, succeeded: 1 })) };
    });
    const code = await h.run('tasks', 'create', '--package', 'p-1', '--action', 'install', '--device', 'a', '--device', 'b', '--watch', '--interval', '1', '--json');
    assert.equal(code, 1);
    assert.equal(h.sent.filter((r) => r.url.endsWith('/summary')).length, 3);
    assert.equal(JSON.parse(h.out()).summary.counts.failed, 1, 'stdout holds the final task only');
    assert.match(h.err(), /task t-1: 0\/2 done: 2 pending/);
    assert.match(h.err(), /task t-1: 2\/2 done: 1 succeeded, 1 failed/);
  });

  test('--watch gives up at --timeout with exit 1', async () => {
    const h = harness((req) => ({ status: 200, body: req.url.endsWith('/summary') ? summary({ downloading: 2 }) : task(summary({})) }));
    assert.equal(await h.run('tasks', 'show', 't-1', '--watch', '--interval', '1', '--timeout', '3'), 1);
    assert.match(h.err(), /CLI\.TASK_FAILED: task t-1 has not settled after 3 s: 0\/2 done: 2 downloading/);
  });

  test("the API's refusal: its code and message, exit 1", async () => {
    const h = harness(() => ({ status: 404, body: { code: 'TASKS.PACKAGE_NOT_FOUND', message: 'package p-9 not found' } }));
    assert.equal(await h.run('packages', 'show', 'p-9'), 1);
    assert.equal(h.err(), 'fleetcast: TASKS.PACKAGE_NOT_FOUND: package p-9 not found\n');
    assert.equal(h.out(), '');
  });

  test('no answer: exit 3', async () => {
    const h = harness(() => Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }));
    assert.equal(await h.run('devices', 'list'), 3);
    assert.match(h.err(), /CLI\.UNREACHABLE: cannot reach http:\/\/gw\.test: ECONNREFUSED/);
  });

  test('usage errors: exit 2, nothing sent', async () => {
    const h = harness(() => ({ status: 500 }));
    assert.equal(await h.run('tasks', 'create', '--package', 'p', '--action', 'install'), 2);
    assert.equal(await h.run('tasks', 'create', '--action', 'uninstall'), 2);
    assert.equal(await h.run('packages', 'list', '--limit', 'lots'), 2);
    assert.equal(await h.run('nonsense'), 2);
    assert.equal(await h.run('tasks', 'retry'), 2, 'the task ID is required');
    assert.equal(await h.run('plan', '--anything'), 2);
    assert.equal(h.sent.length, 0);
    assert.match(h.err(), /unknown option '--anything'/);
    assert.equal(await h.run('--help'), 0);
  });

  test('plan: POST /v1/plans from the options; a table, or the JSON with --json', async () => {
    const { samplePlan } = await import('./output/plan-format.fixture');
    const h = harness(() => ({ status: 200, body: samplePlan }));
    assert.equal(await h.run('plan', '--package', 'pkg-1', '--targets', 'lyon-1,lyon-2', '--no-multicast'), 0);
    assert.deepEqual([h.sent[0].method, h.sent[0].url, h.sent[0].body], ['POST', 'http://gw.test/v1/plans', { packageId: 'pkg-1', targets: { deviceIds: ['lyon-1', 'lyon-2'] }, settings: { useMulticast: false } }]);
    assert.match(h.out(), /^WAN saved: +80\.0 MiB$/m);
    const j = harness(() => ({ status: 200, body: samplePlan }));
    assert.equal(await j.run('plan', '--package', 'pkg-1', '--subnet', '10.1.1.0/24', '--json'), 0);
    assert.deepEqual(JSON.parse(j.out()), samplePlan);
    const refused = harness(() => ({ status: 404, body: { code: 'INVENTORY.DEVICE_NOT_FOUND', message: '1 target device(s) unknown to the inventory: ghost' } }));
    assert.equal(await refused.run('plan', '--package', 'pkg-1', '--targets', 'ghost'), 1);
    assert.match(refused.err(), /INVENTORY\.DEVICE_NOT_FOUND: 1 target device\(s\) unknown to the inventory: ghost/);
    assert.equal(await refused.run('plan', '--targets', 'a'), 2, 'no --package: a usage error, nothing sent');
    assert.equal(refused.sent.length, 1);
  });

  test('reports wan-savings and subnets list: their options become the query string', async () => {
    const report = { from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z', groupBy: 'office', topologyVersion: 2, items: [], totals: { bytes: { origin: 0, multicast: 0, peer: 0 }, savedBytes: 0, savedRatio: 0 } };
    const h = harness((req) => ({ status: 200, body: req.url.includes('/v1/subnets') ? { items: [{ cidr: '10.1.1.0/24', family: 'ipv4', deviceCount: 5, staleCount: 0 }], total: 7 } : report }));
    assert.equal(await h.run('reports', 'wan-savings', '--from', '2026-11-01', '--to', '2026-12-01', '--group-by', 'office'), 0);
    assert.equal(h.sent[0].url, 'http://gw.test/v1/reports/wan-savings?from=2026-11-01T00%3A00%3A00.000Z&to=2026-12-01T00%3A00%3A00.000Z&groupBy=office');
    assert.equal(await h.run('subnets', 'list', '--limit', '1', '--offset', '2'), 0);
    assert.equal(h.sent[1].url, 'http://gw.test/v1/subnets?limit=1&offset=2');
    assert.match(h.out(), /1 of 7 shown \(from 2\)/);
    assert.equal(await h.run('reports', 'wan-savings', '--group-by', 'city'), 2);
  });

  test('list options become the query string', async () => {
    const h = harness(() => ({ status: 200, body: { items: [], total: 0 } }));
    assert.equal(await h.run('devices', 'list', '--platform', 'linux', '--subnet', '10.1.2.0/24', '--unsupported', '--limit', '5'), 0);
    assert.equal(h.sent[0].url, 'http://gw.test/v1/devices?limit=5&platform=linux&subnet=10.1.2.0%2F24&versionState=unsupported-version');
    assert.equal(h.out(), '(none)\n');
  });

  const pkg = { id: 'p-1', name: 'tool', version: '1', platform: 'linux', installCommand: '/bin/sh', installArgs: ['-c', 'x'], successExitCodes: [0], timeoutSeconds: 60, status: 'awaiting-content', contentId: null, size: null, createdAt: 'x' };
  const session = (offset: number) => ({ id: 'u-1', packageId: 'p-1', size: 11, offset, sha256: null, createdAt: 'x', expiresAt: 'y' });

  test('upload: creates the package and a resumable upload with the SHA-256, then streams the file from offset 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetcast-cli-'));
    try {
      const file = join(dir, 'tool.sh');
      await writeFile(file, 'echo hello\n');
      const h = harness((req) => {
        if (req.method === 'PATCH') return { status: 200, body: { ...pkg, status: 'ready', size: 11 } };
        if (req.url.endsWith('/v1/uploads')) return { status: 201, body: session(0) };
        return { status: 201, body: pkg };
      });
      const code = await h.run('packages', 'upload', file, '--name', 'tool', '--version', '1', '--platform', 'linux', '--install-command', '/bin/sh', '--arg', '-c', '--arg', 'x', '--json', '--config', join(dir, 'config.json'));
      assert.equal(code, 0, h.err());
      assert.deepEqual(h.sent[0].body, { name: 'tool', version: '1', platform: 'linux', installCommand: '/bin/sh', installArgs: ['-c', 'x'] });
      assert.deepEqual(h.sent[1].body, { packageId: 'p-1', size: 11, sha256: createHash('sha256').update('echo hello\n').digest('hex') });
      const patch = h.sent[2];
      assert.equal(patch.url, 'http://gw.test/v1/uploads/u-1');
      assert.deepEqual(patch.body, { streamedBytes: 11 });
      assert.equal(patch.headers['content-length'], '11');
      assert.equal(patch.headers['upload-offset'], '0');
      assert.equal(JSON.parse(h.out()).status, 'ready');
      assert.match(h.err(), /upload 11 B \/ 11 B \(100%\)/);
      assert.match(h.err(), /upload complete: 11 bytes sent by this run$/m);
      // Finished: nothing is left to resume.
      assert.deepEqual(JSON.parse(await readFile(join(dir, 'uploads.json'), 'utf8')), { uploads: [] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('upload: after a network error, waits, asks where the server stands and sends only the rest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetcast-cli-'));
    try {
      const file = join(dir, 'tool.sh');
      await writeFile(file, 'echo hello\n');
      let patches = 0;
      const h = harness((req) => {
        if (req.method === 'PATCH') {
          patches += 1;
          if (patches === 1) return new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
          return { status: 200, body: { ...pkg, status: 'ready', size: 11 } };
        }
        if (req.url.endsWith('/v1/uploads')) return { status: 201, body: session(0) };
        if (req.url.endsWith('/v1/uploads/u-1')) return { status: 200, body: session(5) };
        return { status: 201, body: pkg };
      });
      const code = await h.run('packages', 'upload', file, '--name', 'tool', '--version', '1', '--platform', 'linux', '--install-command', '/bin/sh', '--config', join(dir, 'config.json'));
      assert.equal(code, 0, h.err());
      const second = h.sent.filter((r) => r.method === 'PATCH')[1]!;
      assert.equal(second.headers['upload-offset'], '5');
      assert.equal(second.headers['content-length'], '6');
      assert.deepEqual(second.body, { streamedBytes: 6 });
      assert.match(h.err(), /upload interrupted at about byte 0 \(cannot reach http:\/\/gw\.test: ECONNRESET\); trying again in 1 s \(1\/12\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('upload to a server without resumable uploads: the file goes in one request, as before', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetcast-cli-'));
    try {
      const file = join(dir, 'tool.sh');
      await writeFile(file, 'echo hello\n');
      const h = harness((req) => {
        if (req.url.endsWith('/v1/uploads')) return { status: 404, body: { code: 'COMMON.NOT_FOUND', message: 'Cannot POST /v1/uploads' } };
        if (req.method === 'PUT') return { status: 200, body: { ...pkg, status: 'ready', size: 11 } };
        return { status: 201, body: pkg };
      });
      const code = await h.run('packages', 'upload', file, '--name', 'tool', '--version', '1', '--platform', 'linux', '--install-command', '/bin/sh', '--json', '--config', join(dir, 'config.json'));
      assert.equal(code, 0, h.err());
      const put = h.sent[2]!;
      assert.equal(put.url, 'http://gw.test/v1/packages/p-1/content');
      assert.deepEqual(put.body, { streamedBytes: 11 });
      assert.equal(put.headers['x-content-sha256'], createHash('sha256').update('echo hello\n').digest('hex'));
      assert.match(h.err(), /no resumable uploads/);
      assert.equal(JSON.parse(h.out()).status, 'ready');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('upload --resume with nothing remembered is a usage error, and nothing is sent', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleetcast-cli-'));
    try {
      const file = join(dir, 'tool.sh');
      await writeFile(file, 'x');
      const h = harness(() => ({ status: 500 }));
      assert.equal(await h.run('packages', 'upload', file, '--resume', '--config', join(dir, 'config.json')), 2);
      assert.match(h.err(), /nothing to resume/);
      assert.equal(h.sent.length, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('packages delete and list with filters', async () => {
    const h = harness((req) => ({ status: 200, body: req.method === 'DELETE' ? { id: 'p-1', deletedAt: 'x', removedContentId: null } : { items: [], total: 0 } }));
    assert.equal(await h.run('packages', 'delete', 'p-1', '--json'), 0);
    assert.equal(h.sent[0].method, 'DELETE');
    assert.equal(h.sent[0].url, 'http://gw.test/v1/packages/p-1');
    assert.deepEqual(JSON.parse(h.out()), { id: 'p-1', deletedAt: 'x', removedContentId: null });
    assert.equal(await h.run('packages', 'list', '--name', 'agent', '--status', 'ready', '--created-after', '2025-06-01', '--limit', '5'), 0);
    assert.equal(h.sent[1].url, 'http://gw.test/v1/packages?limit=5&name=agent&status=ready&createdAfter=2025-06-01T00%3A00%3A00.000Z');
    assert.equal(await h.run('packages', 'list', '--created-before', 'soon'), 2);
  });
});

/** An event-stream response, its events sent as given (frames as the gateway writes them). */
function eventStream(events: Array<[string, unknown]>): Response {
  const text = 'retry: 3000\n\n' + events.map(([event, data], i) => `id: ${i + 1}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join('');
  const bytes = new TextEncoder().encode(text);
  // Split mid-frame: the client must put events together across chunks.
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(bytes.subarray(0, 17));
      c.enqueue(bytes.subarray(17));
      c.close();
    },
  });
  return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8' } });
}

describe('tasks cancel, retry and live watch', () => {
  const counts = (c: Partial<TaskSummary['counts']>) => ({ pending: 0, queued: 0, downloading: 0, cached: 0, installing: 0, succeeded: 0, failed: 0, cancelled: 0, ...c });

  test('tasks cancel posts to the task and prints it; --json the answer alone', async () => {
    const h = harness(() => ({ status: 200, body: { ...task(summary({ succeeded: 1, cancelled: 1 })), status: 'cancelled' } }));
    assert.equal(await h.run('tasks', 'cancel', 't-1'), 0, h.err());
    assert.deepEqual(h.sent.map((r) => [r.method, r.url]), [['POST', 'http://gw.test/v1/tasks/t-1/cancel']]);
    assert.match(h.out(), /cancelled: 1 device\(s\) stop/);
    const j = harness(() => ({ status: 200, body: { ...task(summary({ cancelled: 2 })), status: 'cancelled' } }));
    assert.equal(await j.run('tasks', 'cancel', 't-1', '--json'), 0);
    assert.equal(JSON.parse(j.out()).status, 'cancelled');
  });

  test("tasks cancel of a finished task: the API's 409 code and message, exit 1", async () => {
    const h = harness(() => ({ status: 409, body: { code: 'TASKS.TASK_FINISHED', message: 'task t-1 is already completed: nothing to cancel' } }));
    assert.equal(await h.run('tasks', 'cancel', 't-1'), 1);
    assert.equal(h.err(), 'fleetcast: TASKS.TASK_FINISHED: task t-1 is already completed: nothing to cancel\n');
  });

  test('tasks retry: every failed device by default, or --devices (comma-separated or repeated)', async () => {
    const h = harness((req) => ({ status: 200, body: { task: task(summary({ pending: 2 })), retried: (req.body as { deviceIds?: string[] }).deviceIds ?? ['a', 'b'] } }));
    assert.equal(await h.run('tasks', 'retry', 't-1'), 0, h.err());
    assert.equal(await h.run('tasks', 'retry', 't-1', '--devices', 'a,b', '--devices', 'c', '--json'), 0);
    assert.deepEqual(h.sent.map((r) => [r.method, r.url, r.body]), [
      ['POST', 'http://gw.test/v1/tasks/t-1/retry', {}],
      ['POST', 'http://gw.test/v1/tasks/t-1/retry', { deviceIds: ['a', 'b', 'c'] }],
    ]);
    assert.match(h.out(), /retried 2 device\(s\): a, b/);
    assert.deepEqual(JSON.parse(h.out().slice(h.out().indexOf('{'))).retried, ['a', 'b', 'c']);
    const none = harness(() => ({ status: 409, body: { code: 'TASKS.NOTHING_TO_RETRY', message: 'no device of the task has failed: nothing to retry' } }));
    assert.equal(await none.run('tasks', 'retry', 't-1'), 1);
    assert.match(none.err(), /TASKS.NOTHING_TO_RETRY/);
  });

  test('--watch follows the live event stream when the server offers it: no polling; exit 1 when one failed', async () => {
    const h = harness((req) => {
      if (req.url.endsWith('/events')) {
        return eventStream([
          ['snapshot', task(summary({ pending: 2 }))],
          ['device', { taskId: 't-1', deviceId: 'a', state: 'downloading' }],
          ['heartbeat', { at: 'x' }],
          ['task', { taskId: 't-1', status: 'active', total: 2, counts: counts({ downloading: 1, succeeded: 1 }), bytes: { origin: 10, multicast: 0, peer: 0 } }],
          ['task', { taskId: 't-1', status: 'completed', total: 2, counts: counts({ failed: 1, succeeded: 1 }), bytes: { origin: 20, multicast: 0, peer: 0 } }],
        ]);
      }
      return { status: 200, body: task(summary({ failed: 1, succeeded: 1 })) };
    });
    assert.equal(await h.run('tasks', 'show', 't-1', '--watch', '--json'), 1);
    assert.deepEqual(h.sent.map((r) => r.url), ['http://gw.test/v1/tasks/t-1/events', 'http://gw.test/v1/tasks/t-1']);
    assert.equal(h.sent[0]!.headers.authorization, 'Bearer tok');
    assert.match(h.err(), /task t-1: 0\/2 done: 2 pending/);
    assert.match(h.err(), /task t-1: 1\/2 done: 1 downloading, 1 succeeded/);
    assert.match(h.err(), /task t-1: 2\/2 done: 1 succeeded, 1 failed \(of 2\); origin 20 B/);
    assert.equal(JSON.parse(h.out()).summary.counts.failed, 1);
  });

  test('--watch polls when the stream ends before the task settles', async () => {
    const polls = [summary({ downloading: 2 }), summary({ succeeded: 2 })];
    const h = harness((req) => {
      if (req.url.endsWith('/events')) return eventStream([['snapshot', task(summary({ pending: 2 }))]]);
      if (req.url.endsWith('/summary')) return { status: 200, body: polls.shift() };
      return { status: 200, body: task(summary({ succeeded: 2 })) };
    });
    assert.equal(await h.run('tasks', 'show', 't-1', '--watch', '--interval', '1'), 0, h.err());
    assert.match(h.err(), /the live updates ended; polling the summary/);
    assert.equal(h.sent.filter((r) => r.url.endsWith('/summary')).length, 2);
  });

  test('--watch on an unknown task: the 404 of the stream is the answer, no polling', async () => {
    const h = harness(() => ({ status: 404, body: { code: 'TASKS.TASK_NOT_FOUND', message: 'task t-9 not found' } }));
    assert.equal(await h.run('tasks', 'show', 't-9', '--watch'), 1);
    assert.equal(h.sent.length, 1);
    assert.match(h.err(), /TASKS.TASK_NOT_FOUND/);
  });
});
