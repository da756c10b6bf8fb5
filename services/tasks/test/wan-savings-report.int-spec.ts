import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { NatsConnection } from 'nats';
import { DeviceStatusReported, DeviceStatusV1, InventoryRpc, ReportsRpc, ResolvedTargetsPage, RpcReply, TasksRpc } from '@fleetcast/contracts';
import { encodeJson, RpcClient } from '@fleetcast/nats';
import { waitFor } from '@fleetcast/testing';
import { startTasksHarness, statusReport, TasksHarness } from './support/tasks-harness';

/**
 * The WAN savings report's figures: each applied status report adds what it says beyond the
 * device's previous one to its subnet's hourly row (right after the batch commits), which `tasks.qry.report.bytes-by-subnet.v1`
 * sums over a range. Real NATS (operator mode), Postgres and the service; the inventory stood in
 * for by a responder that puts the devices on two subnets.
 */
const EAST = '10.61.1.0/24';
const WEST = '10.61.2.0/24';

let h: TasksHarness;
let nc: NatsConnection;
let rpc: RpcClient;
let origin: TasksHarness['origin'];

/** A report as it travels: without `parent`, as an agent older than that source sends it. */
const report = (taskId: string, deviceId: string, seq: number, state: DeviceStatusV1['state'], bytes: { origin: number; multicast: number; peer: number; parent?: number }) => ({
  ...statusReport(taskId, deviceId, seq, state),
  bytes,
});

describe('bytes by subnet over time (real NATS, Postgres, service)', () => {
  before(async () => {
    h = await startTasksHarness('tasks_wan_report');
    ({ nc, rpc, origin } = h);
  });

  after(() => h?.stop());

  test('progress reports add their increase once; a redelivered or older report adds nothing; the range is respected', async () => {
    const resolved: ResolvedTargetsPage = {
      devices: [
        { deviceId: 'e-1', subnet: EAST, known: true },
        { deviceId: 'e-2', subnet: EAST, known: true },
        { deviceId: 'w-1', subnet: WEST, known: true },
      ],
      next: null,
    };
    const inventory = nc.subscribe(InventoryRpc.resolveTargetsPage.subject, {
      callback: (error, msg) => {
        if (!error) msg.respond(encodeJson({ ok: true, data: resolved } satisfies RpcReply));
      },
    });
    await nc.flush();
    try {
      const before = new Date(Date.now() - 3600_000).toISOString();
      const pkg = await rpc.call(TasksRpc.createPackage, { name: 'report-tool', version: '1.0.0', platform: 'linux', installCommand: '/bin/true' });
      await rpc.call(TasksRpc.attachContent, { packageId: pkg.id, contentId: origin.add(randomBytes(4096)).contentId });
      const task = await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'cache-only', targets: { deviceIds: ['e-1', 'e-2', 'w-1'] } });
      const js = nc.jetstream();
      const send = (r: ReturnType<typeof report>) => js.publish(DeviceStatusReported.subject(r.deviceId), encodeJson(r));
      // e-1 is the representative (origin), e-2 hears the multicast and repairs from a peer (both
      // older agents: no parent bytes), w-1 fetches across its office's link from the parent office, then the origin.
      await send(report(task.id, 'e-1', 1, 'downloading', { origin: 1000, multicast: 0, peer: 0 }));
      await send(report(task.id, 'e-1', 2, 'succeeded', { origin: 4096, multicast: 0, peer: 0 }));
      await send(report(task.id, 'e-2', 1, 'downloading', { origin: 0, multicast: 3000, peer: 0 }));
      await send(report(task.id, 'e-2', 2, 'succeeded', { origin: 0, multicast: 3596, peer: 500 }));
      // Redelivered and out of order: older than what e-2 said, so it changes nothing.
      await send(report(task.id, 'e-2', 1, 'downloading', { origin: 0, multicast: 3000, peer: 0 }));
      await send(report(task.id, 'w-1', 1, 'downloading', { origin: 0, multicast: 0, peer: 0, parent: 1000 }));
      await send(report(task.id, 'w-1', 2, 'succeeded', { origin: 1096, multicast: 0, peer: 0, parent: 3000 }));

      await waitFor(async () => (await rpc.call(TasksRpc.getTaskSummary, { id: task.id })).counts.succeeded === 3, { timeoutMs: 10_000, description: 'every report applied' });
      const now = new Date(Date.now() + 3600_000).toISOString();
      // The hourly rows are written right after each batch's commit: wait for the last one.
      const { items } = await waitFor(async () => {
        const report = await rpc.call(ReportsRpc.bytesBySubnet, { from: before, to: now });
        const west = report.items.find((i) => i.subnet === WEST);
        return west && west.bytes.parent === 3000 ? report : null;
      }, { timeoutMs: 10_000, description: 'the last batch in the hourly figures' });
      assert.deepEqual(items, [
        { subnet: EAST, bytes: { origin: 4096, parent: 0, multicast: 3596, peer: 500 } },
        { subnet: WEST, bytes: { origin: 1096, parent: 3000, multicast: 0, peer: 0 } },
      ]);
      // A range that ended before the reports holds none of them.
      const earlier = await rpc.call(ReportsRpc.bytesBySubnet, { from: new Date(Date.now() - 3 * 3600_000).toISOString(), to: before });
      assert.deepEqual(earlier.items, []);
    } finally {
      inventory.unsubscribe();
    }
  });

  test('a range that ends before it starts is refused naming the field', async () => {
    await assert.rejects(rpc.call(ReportsRpc.bytesBySubnet, { from: '2026-12-02T00:00:00Z', to: '2026-12-01T00:00:00Z' }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CONTRACT.INVALID');
      assert.match(error.message, /to: from must be before to/);
      return true;
    });
  });
});
