import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { NatsConnection } from 'nats';
import { DeviceStatusReported, DeviceStatusV1, TasksRpc } from '@fleetcast/contracts';
import { encodeJson, RpcClient } from '@fleetcast/nats';
import { waitFor } from '@fleetcast/testing';
import { startTasksHarness, statusReport, TasksHarness } from './support/tasks-harness';

/**
 * Why a device does not progress reaches the operator through the status report path alone: a
 * device reports `queued` with a reason (as an agent blocked by CACHE.NO_SPACE does), and the task's
 * device list and summary show it; a later report without a reason clears it.
 */
let h: TasksHarness;
let nc: NatsConnection;
let rpc: RpcClient;
let origin: TasksHarness['origin'];

const report = (taskId: string, deviceId: string, seq: number, state: DeviceStatusV1['state'], reason: DeviceStatusV1['reason']): DeviceStatusV1 =>
  statusReport(taskId, deviceId, seq, state, { reason, hashVerified: false });

describe('reasons in the device list and the task summary (real NATS, Postgres, service)', () => {
  before(async () => {
    h = await startTasksHarness('tasks_reasons');
    ({ nc, rpc, origin } = h);
  });

  after(() => h?.stop());

  test('queued with CACHE.NO_SPACE shows in the device list and the summary; progress clears it', async () => {
    const pkg = await rpc.call(TasksRpc.createPackage, { name: 'reasons-tool', version: '1.0.0', platform: 'linux', installCommand: '/bin/true' });
    await rpc.call(TasksRpc.attachContent, { packageId: pkg.id, contentId: origin.add(randomBytes(4096)).contentId });
    const devices = ['r-1', 'r-2', 'r-3'];
    const task = await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'install', targets: { deviceIds: devices } });
    const noSpace = { code: 'CACHE.NO_SPACE', message: 'the cache cannot make room for 20971520 bytes' };
    const js = nc.jetstream();
    for (const d of ['r-1', 'r-2']) {
      await js.publish(DeviceStatusReported.subject(d), encodeJson(report(task.id, d, 1, 'queued', null)));
      await js.publish(DeviceStatusReported.subject(d), encodeJson(report(task.id, d, 2, 'queued', noSpace)));
    }
    await js.publish(DeviceStatusReported.subject('r-3'), encodeJson(report(task.id, 'r-3', 1, 'failed', { code: 'DOWNLOAD.EXHAUSTED', message: 'gave up' })));

    const summary = await waitFor(async () => {
      const s = await rpc.call(TasksRpc.getTaskSummary, { id: task.id });
      // Every report applied: the consumer may take them in more than one batch.
      return s.reasons?.length === 2 && s.reasons[0]?.devices === 2 ? s : null;
    }, { timeoutMs: 10_000, description: 'the reasons of all three devices in the summary' });
    assert.equal(summary.counts.queued, 2);
    assert.deepEqual(summary.reasons, [
      { state: 'queued', code: 'CACHE.NO_SPACE', message: noSpace.message, devices: 2 },
      { state: 'failed', code: 'DOWNLOAD.EXHAUSTED', message: 'gave up', devices: 1 },
    ]);
    const queued = (await rpc.call(TasksRpc.listTaskDevices, { id: task.id, state: 'queued' })).items;
    assert.deepEqual(queued.map((d) => [d.deviceId, d.reason?.code]), [['r-1', 'CACHE.NO_SPACE'], ['r-2', 'CACHE.NO_SPACE']]);

    // Room was made on r-1: its next report (downloading, no reason) clears the reason.
    await js.publish(DeviceStatusReported.subject('r-1'), encodeJson(report(task.id, 'r-1', 3, 'downloading', null)));
    await waitFor(async () => (await rpc.call(TasksRpc.getTaskSummary, { id: task.id })).reasons?.[0]?.devices === 1, { timeoutMs: 10_000, description: 'r-1 no longer counted' });
    const r1 = (await rpc.call(TasksRpc.listTaskDevices, { id: task.id, state: 'downloading' })).items[0];
    assert.equal(r1?.reason, null);
  });
});
