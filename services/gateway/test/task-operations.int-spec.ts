// Cancel, retry and the live event stream of the gateway, against a real NATS server in operator
// mode (the gateway connects as its own user, with its own permissions): the tasks service is stood
// in for by NATS responders, and its live updates are published on their real subjects.
import { after, before, describe, it, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest, IncomingMessage } from 'node:http';
import { INestApplication } from '@nestjs/common';
import { connect, NatsConnection } from 'nats';
import request from 'supertest';
import { DeviceTaskChanged, DeviceTaskChangedV1, ErrorCode, RpcReply, Task, TaskChanged, TaskChangedV1, TasksRpc } from '@fleetcast/contracts';
import { encodeJson } from '@fleetcast/nats';
import { startNatsServer, stopAll, waitFor } from '@fleetcast/testing';
import { LiveEventsService } from '../src/events/live-events.service';
import { startTestGateway } from './support/test-gateway';
import { standIn } from './support/rpc-stand-in';

const OPS = 'fct_ops-operations-token';
const READER = 'fct_reader-read-only-token';
const sha = (t: string) => createHash('sha256').update(t).digest('hex');

const ok = (data: unknown): RpcReply => ({ ok: true, data });
const fail = (code: string, message: string): RpcReply => ({ ok: false, error: { code, message } });

const counts = (over: Partial<Task['summary']['counts']> = {}) => ({ pending: 0, queued: 0, downloading: 0, cached: 0, installing: 0, succeeded: 0, failed: 0, cancelled: 0, ...over });

function task(id: string, status: Task['status'], over: Partial<Task['summary']['counts']> = {}): Task {
  const c = counts(over);
  return {
    id,
    name: 'Editor 1.2.3 (install)',
    packageId: 'pkg-1',
    action: 'install',
    status,
    profileId: null,
    startAt: '2026-01-01T00:00:00.000Z',
    createdAt: '2026-01-01T00:00:00.000Z',
    summary: { taskId: id, total: Object.values(c).reduce((a, b) => a + b, 0), counts: c, bytes: { origin: 0, parent: 0, multicast: 0, peer: 0 }, subnets: [], reasons: [] },
  };
}

/** One server-sent event as a client parses it. */
interface Sse {
  id?: string;
  event: string;
  data: any;
}

/** Opens an event stream with Node's client and parses its events as they come; `close` hangs up. */
/** Every stream a test opened and has not closed: closed at the end whatever happened, so that the gateway can stop. */
const openStreams = new Set<{ close(): void }>();

function openStream(url: string, headers: Record<string, string> = {}): Promise<{ res: IncomingMessage; events: Sse[]; close(): void; raw(): string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const events: Sse[] = [];
      let buffer = '';
      let raw = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        buffer += chunk;
        let at: number;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const fields = Object.fromEntries(frame.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
          if (fields.event) events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data ?? 'null') });
        }
      });
      res.on('error', () => undefined);
      const stream = {
        res,
        events,
        close: () => {
          openStreams.delete(stream);
          req.destroy();
        },
        raw: () => raw,
      };
      openStreams.add(stream);
      resolve(stream);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('gateway: task cancel, retry and live events', () => {
  let app: INestApplication;
  let baseUrl: string;
  let nc: NatsConnection;

  before(async () => {
    const nats = await startNatsServer();
    nc = await connect(nats.adminConnectOptions());
    ({ app, baseUrl } = await startTestGateway(nats, { apiTokens: `ops:operator:sha256:${sha(OPS)},reader:read-only:sha256:${sha(READER)}`, logName: 'gateway-task-ops-test', originUrl: 'http://127.0.0.1:1', events: { heartbeatMs: 300, maxClients: 3 } }));
  });

  after(async () => {
    for (const stream of [...openStreams]) stream.close();
    await app?.close();
    await nc?.close();
    await stopAll();
  });

  const api = () => request(baseUrl);
  const ops = `Bearer ${OPS}`;
  const respond = (t: TestContext, subject: string, answer: (req: Record<string, unknown>) => RpcReply) => standIn(nc, t, subject, answer);

  describe('POST /v1/tasks/{id}/cancel', () => {
    it('answers 200 with the cancelled task, asking the tasks service with the ID from the path', async (t) => {
      const cancel = await respond(t, TasksRpc.cancelTask.subject, (req) => ok(task(String(req.id), 'cancelled', { cancelled: 2, succeeded: 1 })));
      const res = await api().post('/v1/tasks/task-1/cancel').set('authorization', ops).expect(200);
      assert.equal(res.body.status, 'cancelled');
      assert.equal(res.body.summary.counts.cancelled, 2);
      assert.deepEqual(cancel.calls, [{ id: 'task-1' }]);
    });

    it('answers a finished task with 409 TASKS.TASK_FINISHED and an unknown one with 404', async (t) => {
      await respond(t, TasksRpc.cancelTask.subject, (req) =>
        req.id === 'done' ? fail(ErrorCode.TaskFinished, 'task done is already completed: nothing to cancel') : fail(ErrorCode.TaskNotFound, `task ${String(req.id)} not found`),
      );
      const finished = await api().post('/v1/tasks/done/cancel').set('authorization', ops).expect(409);
      assert.deepEqual([finished.body.code, finished.body.message], [ErrorCode.TaskFinished, 'task done is already completed: nothing to cancel']);
      const unknown = await api().post('/v1/tasks/nobody/cancel').set('authorization', ops).expect(404);
      assert.equal(unknown.body.code, ErrorCode.TaskNotFound);
    });

    it('needs the operator scope, and an ID that can exist', async (t) => {
      const cancel = await respond(t, TasksRpc.cancelTask.subject, () => ok(task('x', 'cancelled')));
      const forbidden = await api().post('/v1/tasks/task-1/cancel').set('authorization', `Bearer ${READER}`).expect(403);
      assert.match(forbidden.body.message, /operator/);
      const bad = await api().post('/v1/tasks/has%20space/cancel').set('authorization', ops).expect(400);
      assert.equal(bad.body.details[0].path, 'id');
      assert.equal(cancel.calls.length, 0);
    });
  });

  describe('POST /v1/tasks/{id}/retry', () => {
    it('retries every failed device without a body, and only those listed with one', async (t) => {
      const retry = await respond(t, TasksRpc.retryTask.subject, (req) => ok({ task: task(String(req.id), 'active', { pending: 2 }), retried: (req.deviceIds as string[]) ?? ['d-1', 'd-2'] }));
      const all = await api().post('/v1/tasks/task-1/retry').set('authorization', ops).expect(200);
      assert.deepEqual(all.body.retried, ['d-1', 'd-2']);
      assert.equal(all.body.task.status, 'active');
      const some = await api().post('/v1/tasks/task-1/retry').set('authorization', ops).send({ deviceIds: ['d-2'] }).expect(200);
      assert.deepEqual(some.body.retried, ['d-2']);
      assert.deepEqual(retry.calls, [{ id: 'task-1' }, { id: 'task-1', deviceIds: ['d-2'] }]);
    });

    it('answers a bad body with 400 naming deviceIds, and calls no service', async (t) => {
      const retry = await respond(t, TasksRpc.retryTask.subject, () => ok({ task: task('x', 'active'), retried: [] }));
      for (const body of [{ deviceIds: [] }, { deviceIds: 'd-1' }, { deviceIds: ['bad id'] }]) {
        const res = await api().post('/v1/tasks/task-1/retry').set('authorization', ops).send(body).expect(400);
        assert.equal(res.body.code, ErrorCode.ContractInvalid);
        assert.ok(res.body.details.some((d: { path: string }) => d.path.startsWith('deviceIds')), JSON.stringify(res.body));
      }
      assert.equal(retry.calls.length, 0);
    });

    it('passes on 409 when nothing failed or the task was cancelled, and 404 for an unknown task or device', async (t) => {
      await respond(t, TasksRpc.retryTask.subject, (req) => {
        if (req.id === 'cancelled') return fail(ErrorCode.TaskCancelled, 'task cancelled was cancelled: create a new task instead');
        if (req.id === 'fine') return fail(ErrorCode.NothingToRetry, 'no device of the task has failed: nothing to retry');
        if (req.deviceIds) return fail(ErrorCode.DeviceNotFound, 'not targets of the task: ghost');
        return fail(ErrorCode.TaskNotFound, `task ${String(req.id)} not found`);
      });
      assert.equal((await api().post('/v1/tasks/cancelled/retry').set('authorization', ops).expect(409)).body.code, ErrorCode.TaskCancelled);
      assert.equal((await api().post('/v1/tasks/fine/retry').set('authorization', ops).expect(409)).body.code, ErrorCode.NothingToRetry);
      assert.equal((await api().post('/v1/tasks/nobody/retry').set('authorization', ops).expect(404)).body.code, ErrorCode.TaskNotFound);
      assert.equal((await api().post('/v1/tasks/t/retry').set('authorization', ops).send({ deviceIds: ['ghost'] }).expect(404)).body.code, ErrorCode.DeviceNotFound);
    });
  });

  describe('GET /v1/events (server-sent events)', () => {
    const streams = () => app.get(LiveEventsService).streams;

    it("streams one task's snapshot, then its task and device changes from NATS, and heartbeats; nothing of other tasks", async (t) => {
      await respond(t, TasksRpc.getTask.subject, (req) => (req.id === 'live-1' ? ok(task('live-1', 'active', { pending: 2 })) : fail(ErrorCode.TaskNotFound, 'no')));
      // The token in the query string, as a browser's EventSource has to send it.
      const stream = await openStream(`${baseUrl}/v1/tasks/live-1/events?access_token=${READER}`);
      t.after(() => stream.close());
      assert.equal(stream.res.statusCode, 200);
      assert.match(String(stream.res.headers['content-type']), /^text\/event-stream/);
      await waitFor(() => stream.events.some((e) => e.event === 'snapshot'), { timeoutMs: 5000, description: 'the snapshot' });
      assert.equal(stream.events[0]!.data.summary.counts.pending, 2);

      const device: DeviceTaskChangedV1 = {
        taskId: 'live-1',
        deviceId: 'd-1',
        state: 'downloading',
        previousState: 'queued',
        reason: null,
        bytes: { origin: 100, parent: 50, multicast: 900, peer: 24 },
        at: new Date().toISOString(),
      };
      const changed: TaskChangedV1 = { taskId: 'live-1', status: 'active', total: 2, counts: counts({ pending: 1, downloading: 1 }), bytes: device.bytes, at: device.at };
      nc.publish(DeviceTaskChanged.subject('live-2'), encodeJson({ ...device, taskId: 'live-2' })); // another task's
      nc.publish(DeviceTaskChanged.subject('live-1'), encodeJson({ junk: true })); // not the contract: dropped
      nc.publish(DeviceTaskChanged.subject('live-1'), encodeJson(device));
      nc.publish(TaskChanged.subject('live-1'), encodeJson(changed));
      await waitFor(() => stream.events.some((e) => e.event === 'task'), { timeoutMs: 5000, description: 'the task change' });
      const devices = stream.events.filter((e) => e.event === 'device');
      assert.deepEqual(devices.map((e) => e.data), [device], 'only the contract-valid change of this task');
      assert.deepEqual(stream.events.find((e) => e.event === 'task')!.data, changed);
      await waitFor(() => stream.events.some((e) => e.event === 'heartbeat'), { timeoutMs: 5000, description: 'a heartbeat' });
      const ids = stream.events.map((e) => Number(e.id));
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'event IDs grow');
      assert.match(stream.raw(), /^retry: 3000\n\n/);
    });

    it('every task without a filter, with the token in a cookie; subscriptions end when the client goes away', async (t) => {
      // The previous test's stream closes as it ends: start from none.
      await waitFor(() => streams() === 0, { timeoutMs: 5000, description: 'no stream open' });
      const stream = await openStream(`${baseUrl}/v1/events`, { cookie: `theme=dark; fleetcast_token=${encodeURIComponent(READER)}` });
      t.after(() => stream.close());
      assert.equal(stream.res.statusCode, 200);
      assert.equal(streams(), 1, 'subscribed before the response started');
      const at = new Date().toISOString();
      for (const id of ['any-1', 'any-2']) nc.publish(TaskChanged.subject(id), encodeJson({ taskId: id, status: 'completed', total: 1, counts: counts({ succeeded: 1 }), bytes: { origin: 1, multicast: 0, peer: 0 }, at }));
      await waitFor(() => stream.events.filter((e) => e.event === 'task').length === 2, { timeoutMs: 5000, description: 'both tasks' });
      stream.close();
      await waitFor(() => streams() === 0, { timeoutMs: 5000, description: 'the subscriptions ended' });
    });

    it('refuses without a token (401), for an unknown task (404), a bad ID (400), and past its limit of streams (503)', async (t) => {
      await respond(t, TasksRpc.getTask.subject, () => fail(ErrorCode.TaskNotFound, 'task nobody not found'));
      const none = await api().get('/v1/events').expect(401);
      assert.equal(none.body.code, ErrorCode.Unauthorized);
      // The query token works on the stream only: elsewhere it is no token at all.
      await api().get(`/v1/tasks?access_token=${READER}`).expect(401);
      const unknown = await api().get('/v1/tasks/nobody/events').set('authorization', ops).expect(404);
      assert.equal(unknown.body.code, ErrorCode.TaskNotFound);
      const bad = await api().get('/v1/events?taskId=has%20space').set('authorization', ops).expect(400);
      assert.equal(bad.body.details[0].path, 'taskId');
      await waitFor(() => streams() === 0, { timeoutMs: 5000, description: 'no stream left open' });

      const open = await Promise.all([1, 2, 3].map(() => openStream(`${baseUrl}/v1/events`, { authorization: ops })));
      t.after(() => open.forEach((s) => s.close()));
      const full = await api().get('/v1/events').set('authorization', ops).expect(503);
      assert.match(full.body.message, /EVENTS_MAX_CLIENTS/);
    });
  });

  describe('GET /v1/tasks/{id} and its summary: bytes by source and offices', () => {
    it("passes on the tasks service's parent bytes and offices; an older tasks service's summary reads parent 0 and no offices", async (t) => {
      const bytes = { origin: 100, parent: 400, multicast: 0, peer: 1500 };
      const offices = [
        { officeId: 'east', name: 'East', devices: 2, bytes, wanBytes: 500, savedBytes: 1500 },
        { officeId: null, name: null, devices: 1, bytes: { origin: 50, parent: 0, multicast: 0, peer: 0 }, wanBytes: 50, savedBytes: 0 },
      ];
      const current = task('office-1', 'active', { succeeded: 3 });
      current.summary = { ...current.summary, bytes, offices };
      await respond(t, TasksRpc.getTask.subject, () => ok(current));
      await respond(t, TasksRpc.getTaskSummary.subject, (req) => {
        if (req.id === 'office-1') return ok(current.summary);
        // As a tasks service older than parent bytes and offices answers.
        const { offices: _none, ...older } = task(String(req.id), 'active').summary;
        return ok({ ...older, bytes: { origin: 7, multicast: 0, peer: 0 } });
      });
      const got = (await api().get('/v1/tasks/office-1').set('authorization', ops).expect(200)).body as Task;
      assert.deepEqual(got.summary.bytes, bytes);
      assert.deepEqual(got.summary.offices, offices);
      assert.deepEqual((await api().get('/v1/tasks/office-1/summary').set('authorization', ops).expect(200)).body.offices, offices);
      const older = (await api().get('/v1/tasks/old-1/summary').set('authorization', ops).expect(200)).body;
      assert.deepEqual(older.bytes, { origin: 7, parent: 0, multicast: 0, peer: 0 });
      assert.equal(older.offices, undefined);
    });

    it('documents parent bytes and offices in the OpenAPI document', async () => {
      const doc = (await api().get('/docs-json').expect(200)).body;
      const summary = doc.components.schemas.TaskSummary;
      assert.ok(summary.properties.offices, 'TaskSummary.offices');
      assert.ok(!summary.required.includes('offices'), 'offices optional');
      const office = summary.properties.offices.items;
      for (const field of ['officeId', 'name', 'devices', 'bytes', 'wanBytes', 'savedBytes']) assert.ok(office.properties[field], `office ${field}`);
      assert.ok(summary.properties.bytes.properties.parent, 'bytes.parent');
    });
  });

  it('documents the new routes in the OpenAPI document', async () => {
    const doc = (await api().get('/docs-json').expect(200)).body;
    for (const [path, method] of [['/v1/tasks/{id}/cancel', 'post'], ['/v1/tasks/{id}/retry', 'post'], ['/v1/events', 'get'], ['/v1/tasks/{id}/events', 'get']] as const) {
      assert.ok(doc.paths[path]?.[method], `${method} ${path}`);
    }
    assert.ok(doc.paths['/v1/events'].get.parameters.some((p: { name: string }) => p.name === 'access_token'));
    assert.match(doc.paths['/v1/events'].get.description, /heartbeat/);
  });
});
