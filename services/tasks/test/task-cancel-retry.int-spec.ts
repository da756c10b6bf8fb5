import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { JsMsg, NatsConnection } from 'nats';
import {
  DeviceStatusReported,
  DeviceStatusV1,
  DeviceTaskChanged,
  DeviceTaskChangedV1,
  ErrorCode,
  FleetcastError,
  Streams,
  TaskAssignedV2,
  TaskCancel,
  TaskCancelV1,
  TaskChanged,
  TaskChangedV1,
  TasksRpc,
} from '@fleetcast/contracts';
import { assignmentFromWire, publicKeyFromDer, verifyAssignmentSignature, verifyCancellationSignature } from '@fleetcast/content';
import { encodeJson, RpcClient } from '@fleetcast/nats';
import { waitFor } from '@fleetcast/testing';
import { assignmentMessages, startTasksHarness, statusReport, TasksHarness } from './support/tasks-harness';

let h: TasksHarness;
let nc: NatsConnection;
let rpc: RpcClient;
let origin: TasksHarness['origin'];

const readStream = (filter: string): Promise<JsMsg[]> => assignmentMessages(nc, filter);

const json = <T>(m: { data: Uint8Array }) => JSON.parse(Buffer.from(m.data).toString()) as T;

async function readyTask(devices: string[]) {
  const pkg = await rpc.call(TasksRpc.createPackage, { name: 'tool', version: '2.0.0', platform: 'linux', installCommand: '/bin/true' });
  const stored = origin.add(randomBytes(64 * 1024));
  await rpc.call(TasksRpc.attachContent, { packageId: pkg.id, contentId: stored.contentId });
  return rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'install', targets: { deviceIds: devices } });
}

const report = (taskId: string, deviceId: string, seq: number, state: DeviceStatusV1['state'], originBytes = 0): DeviceStatusV1 =>
  statusReport(taskId, deviceId, seq, state, {
    bytes: { origin: originBytes, parent: 0, multicast: 0, peer: 0 },
    reason: state === 'failed' ? { code: 'DOWNLOAD.EXHAUSTED', message: 'no route' } : null,
  });

const send = (r: DeviceStatusV1) => nc.jetstream().publish(DeviceStatusReported.subject(r.deviceId), encodeJson(r));

async function signingKey() {
  const key = await rpc.call(TasksRpc.getSigningKey, {});
  return publicKeyFromDer(Buffer.from(key.publicKeyDer, 'base64'));
}

describe('tasks service: cancel and retry (real NATS, real Postgres, service as a process)', () => {
  before(async () => {
    h = await startTasksHarness('tasks_cancel');
    ({ nc, rpc, origin } = h);
  });

  after(() => h?.stop());

  test('cancel: unfinished targets become cancelled, each sent one a signed cancellation; late progress is refused', async () => {
    const task = await readyTask(['cx-1', 'cx-2', 'cx-3']);
    await send(report(task.id, 'cx-1', 1, 'succeeded', 10));
    await send(report(task.id, 'cx-2', 1, 'downloading', 20));
    await waitFor(async () => {
      const s = await rpc.call(TasksRpc.getTaskSummary, { id: task.id });
      return s.counts.succeeded === 1 && s.counts.downloading === 1;
    }, { timeoutMs: 10_000, description: 'reports applied' });

    const deviceEvents: DeviceTaskChangedV1[] = [];
    const taskEvents: TaskChangedV1[] = [];
    const subs = [
      nc.subscribe(DeviceTaskChanged.subject(task.id), { callback: (_e, m) => deviceEvents.push(json(m)) }),
      nc.subscribe(TaskChanged.subject(task.id), { callback: (_e, m) => taskEvents.push(json(m)) }),
    ];
    await nc.flush();

    const cancelled = await rpc.call(TasksRpc.cancelTask, { id: task.id });
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.summary.counts.succeeded, 1, 'a finished device keeps its outcome');
    assert.equal(cancelled.summary.counts.cancelled, 2);
    assert.equal(cancelled.summary.counts.pending + cancelled.summary.counts.downloading, 0);
    assert.equal(cancelled.summary.total, 3, 'the counts still add up to the targets');

    // One signed cancellation per device that was sent the task and had not finished.
    const key = await signingKey();
    const copies = await waitFor(async () => {
      const mine = (await readStream(`${TaskCancel.subject('x').replace(/\.x$/, '.*')}`)).map((m) => json<TaskCancelV1>(m)).filter((c) => c.cancellation.document.taskId === task.id);
      return mine.length === 2 ? mine : null;
    }, { timeoutMs: 10_000, description: 'two cancellations in TASK_ASSIGNMENTS' });
    assert.deepEqual(copies.map((c) => c.cancellation.document.deviceId).sort(), ['cx-2', 'cx-3']);
    for (const c of copies) {
      const signed = { value: c.cancellation.document, keyId: c.cancellation.keyId, signature: new Uint8Array(Buffer.from(c.cancellation.signature, 'base64')) };
      assert.equal(verifyCancellationSignature(signed, key), true);
      assert.equal(verifyCancellationSignature({ ...signed, value: { ...signed.value, deviceId: 'cx-1' } }, key), false);
    }

    // Live updates, after the commit: both devices, then the task's new counts.
    await waitFor(() => deviceEvents.length >= 2 && taskEvents.some((t) => t.status === 'cancelled'), { timeoutMs: 5000, description: 'live events' });
    assert.deepEqual(deviceEvents.map((e) => [e.deviceId, e.previousState, e.state]).sort(), [['cx-2', 'downloading', 'cancelled'], ['cx-3', 'pending', 'cancelled']]);
    const last = taskEvents.at(-1)!;
    assert.deepEqual([last.status, last.total, last.counts.cancelled, last.counts.succeeded, last.bytes.origin], ['cancelled', 3, 2, 1, 30]);
    for (const s of subs) s.unsubscribe();

    // A progress report already on its way is too late; the agent's confirmation with its bytes is applied.
    await send(report(task.id, 'cx-2', 2, 'downloading', 40));
    await send({ ...report(task.id, 'cx-2', 3, 'cancelled', 45), reason: { code: 'TASK.CANCELLED', message: 'stopped on this device' } });
    const cx2 = await waitFor(async () => {
      const [d] = (await rpc.call(TasksRpc.listTaskDevices, { id: task.id, state: 'cancelled' })).items.filter((i) => i.deviceId === 'cx-2');
      return d && d.bytes.origin === 45 ? d : null;
    }, { timeoutMs: 10_000, description: 'confirmation applied' });
    assert.equal(cx2.state, 'cancelled');
    const history = (await rpc.call(TasksRpc.getDeviceHistory, { id: task.id, deviceId: 'cx-2' })).items;
    // Cancelled by the control plane, then confirmed by the agent.
    assert.deepEqual(history.map((h) => h.state), ['pending', 'downloading', 'cancelled', 'cancelled']);
    assert.match(history[2]!.reason?.message ?? '', /cancelled by an operator/);
    assert.equal(history[3]!.reason?.message, 'stopped on this device');
    assert.equal((await rpc.call(TasksRpc.getTask, { id: task.id })).status, 'cancelled', 'never completed afterwards');

    await assert.rejects(rpc.call(TasksRpc.cancelTask, { id: task.id }), (e: FleetcastError) => e.code === ErrorCode.TaskFinished && /already cancelled/.test(e.message));
    await assert.rejects(rpc.call(TasksRpc.retryTask, { id: task.id }), (e: FleetcastError) => e.code === ErrorCode.TaskCancelled);
    await assert.rejects(rpc.call(TasksRpc.cancelTask, { id: 'no-such-task' }), (e: FleetcastError) => e.code === ErrorCode.TaskNotFound);
  });

  test('cancel of a scheduled task: its targets are cancelled, none is sent anything, and it never starts', async () => {
    const pkg = await rpc.call(TasksRpc.createPackage, { name: 'later', version: '1', platform: 'linux', installCommand: '/bin/true' });
    await rpc.call(TasksRpc.attachContent, { packageId: pkg.id, contentId: origin.add(randomBytes(1024)).contentId });
    const startAt = new Date(Date.now() + 1500).toISOString();
    const task = await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'install', targets: { deviceIds: ['sc-1', 'sc-2'] }, startAt });
    assert.equal(task.status, 'scheduled');
    const cancelled = await rpc.call(TasksRpc.cancelTask, { id: task.id });
    assert.deepEqual([cancelled.status, cancelled.summary.counts.cancelled, cancelled.summary.counts.pending], ['cancelled', 2, 0]);
    // Past its start time, with the scheduler ticking every 100 ms: still cancelled, nothing sent.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal((await rpc.call(TasksRpc.getTask, { id: task.id })).status, 'cancelled');
    const sent = [...(await readStream(`${TaskAssignedV2.subject('x').replace(/\.x$/, '.*')}`)), ...(await readStream(`${TaskCancel.subject('x').replace(/\.x$/, '.*')}`))].filter(
      (m) => JSON.stringify(json(m)).includes(task.id),
    );
    assert.equal(sent.length, 0, 'no assignment and no cancellation for devices never sent the task');
  });

  test('cancel of a completed task is refused as finished', async () => {
    const task = await readyTask(['cf-1']);
    await send(report(task.id, 'cf-1', 1, 'succeeded'));
    await waitFor(async () => (await rpc.call(TasksRpc.getTask, { id: task.id })).status === 'completed', { timeoutMs: 10_000, description: 'completed' });
    await assert.rejects(rpc.call(TasksRpc.cancelTask, { id: task.id }), (e: FleetcastError) => e.code === ErrorCode.TaskFinished && /already completed/.test(e.message));
  });

  test('retry: failed targets go back to pending with a new signed attempt; the history and the counts say so', async () => {
    const task = await readyTask(['rt-1', 'rt-2', 'rt-3']);
    await send(report(task.id, 'rt-1', 1, 'failed'));
    await send(report(task.id, 'rt-2', 1, 'failed'));
    await send(report(task.id, 'rt-3', 1, 'succeeded'));
    await waitFor(async () => (await rpc.call(TasksRpc.getTask, { id: task.id })).status === 'completed', { timeoutMs: 10_000, description: 'completed with failures' }).catch(async (e) => {
      console.log(JSON.stringify(await rpc.call(TasksRpc.listTaskDevices, { id: task.id })));
      throw e;
    });

    await assert.rejects(rpc.call(TasksRpc.retryTask, { id: task.id, deviceIds: ['rt-3'] }), (e: FleetcastError) => e.code === ErrorCode.NothingToRetry && /rt-3 \(succeeded\)/.test(e.message));
    await assert.rejects(rpc.call(TasksRpc.retryTask, { id: task.id, deviceIds: ['rt-1', 'nobody'] }), (e: FleetcastError) => e.code === ErrorCode.DeviceNotFound && /nobody/.test(e.message));
    await assert.rejects(rpc.call(TasksRpc.retryTask, { id: task.id, deviceIds: [] }), (e: FleetcastError) => e.code === ErrorCode.ContractInvalid && /deviceIds/.test(e.message));
    await assert.rejects(rpc.call(TasksRpc.retryTask, { id: 'no-such-task' }), (e: FleetcastError) => e.code === ErrorCode.TaskNotFound);

    const { task: retried, retried: ids } = await rpc.call(TasksRpc.retryTask, { id: task.id });
    assert.deepEqual(ids.sort(), ['rt-1', 'rt-2']);
    assert.equal(retried.status, 'active', 'a completed task is active again');
    assert.deepEqual([retried.summary.counts.pending, retried.summary.counts.failed, retried.summary.counts.succeeded], [2, 0, 1]);
    const devices = (await rpc.call(TasksRpc.listTaskDevices, { id: task.id })).items;
    assert.deepEqual(devices.map((d) => [d.deviceId, d.state, d.attempt, d.reason]), [['rt-1', 'pending', 2, null], ['rt-2', 'pending', 2, null], ['rt-3', 'succeeded', 1, null]]);

    // The new assignment carries the attempt under the signature.
    const key = await signingKey();
    const second = await waitFor(async () => {
      const copies = (await readStream(TaskAssignedV2.subject('rt-1'))).map((m) => json<TaskAssignedV2>(m)).filter((a) => a.assignment.document.taskId === task.id);
      return copies.find((a) => a.assignment.document.attempt === 2) ?? null;
    }, { timeoutMs: 10_000, description: 'the attempt-2 assignment' });
    assert.equal(verifyAssignmentSignature(assignmentFromWire(second.assignment), key), true);
    assert.equal(verifyAssignmentSignature(assignmentFromWire({ ...second.assignment, document: { ...second.assignment.document, attempt: 3 } }), key), false);

    const history = (await rpc.call(TasksRpc.getDeviceHistory, { id: task.id, deviceId: 'rt-1' })).items;
    assert.deepEqual(history.map((h) => [h.state, h.reason?.code ?? null]), [['pending', null], ['failed', 'DOWNLOAD.EXHAUSTED'], ['pending', 'TASK.RETRIED']]);
    assert.match(history[2]!.reason!.message, /attempt 2/);

    // The new attempt runs to its end; the task completes again, and nothing is left to retry.
    await send(report(task.id, 'rt-1', 2, 'succeeded'));
    await send(report(task.id, 'rt-2', 2, 'succeeded'));
    const done = await waitFor(async () => {
      const t = await rpc.call(TasksRpc.getTask, { id: task.id });
      return t.status === 'completed' ? t : null;
    }, { timeoutMs: 10_000, description: 'completed again' });
    assert.deepEqual([done.summary.counts.succeeded, done.summary.counts.failed, done.summary.total], [3, 0, 3]);
    await assert.rejects(rpc.call(TasksRpc.retryTask, { id: task.id }), (e: FleetcastError) => e.code === ErrorCode.NothingToRetry && /no device of the task has failed/.test(e.message));
  });
});
