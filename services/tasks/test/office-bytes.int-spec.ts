import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { NatsConnection, Subscription } from 'nats';
import {
  DeviceOffice,
  DeviceStatusReported,
  DeviceTaskChanged,
  deviceTaskChangedV1Schema,
  DeviceTaskChangedV1,
  ReportsRpc,
  TasksDeviceRpc,
  TasksRpc,
} from '@fleetcast/contracts';
import { decodeJson, encodeJson, RpcClient } from '@fleetcast/nats';
import { waitFor } from '@fleetcast/testing';
import { startTasksHarness, statusReport, TasksHarness } from './support/tasks-harness';
import { placedDevice, standInForInventoryAndTopology } from './support/topology-standin';

/**
 * Bytes by source per device, per subnet and per office, with bytes from the parent office apart:
 * real NATS (operator mode), Postgres and the service; the inventory and the topology service stood
 * in for by responders. Two branches below `hq`: in `east`, e-1 holds the upstream lease (it
 * announces to the swarm, which records its office) and takes most blocks from the parent office,
 * e-2 takes everything from e-1; in `west`, w-1 fetches from the origin and w-2 is an older agent
 * (a report without `parent`) that heard the multicast. u-1 is unplaced, x-1 unknown to the
 * topology: both count under no office. Only e-1 announces: the others' offices come from their
 * status reports.
 */
const EAST = '10.63.1.0/24';
const WEST = '10.63.2.0/24';
const OTHER = '192.168.63.0/24';
const SIZE = 4096;

const offices = {
  hq: { id: 'hq', name: 'HQ', type: 'default' as const },
  east: { id: 'east', name: 'East branch', type: 'default' as const },
  west: { id: 'west', name: 'West branch', type: 'default' as const },
};
function placed(deviceId: string, office: DeviceOffice['office'], address: string): DeviceOffice {
  return placedDevice(deviceId, office, address, [offices.hq]);
}
const placements: Record<string, DeviceOffice> = {
  'e-1': placed('e-1', offices.east, '10.63.1.11'),
  'e-2': placed('e-2', offices.east, '10.63.1.12'),
  'w-1': placed('w-1', offices.west, '10.63.2.11'),
  'w-2': placed('w-2', offices.west, '10.63.2.12'),
  'u-1': { ...placed('u-1', offices.hq, '192.168.63.7'), placed: false, address: null, parents: [] },
};
const subnetOf: Record<string, string> = { 'e-1': EAST, 'e-2': EAST, 'w-1': WEST, 'w-2': WEST, 'u-1': OTHER, 'x-1': OTHER };
const TARGETS = Object.keys(subnetOf);

let h: TasksHarness;
let nc: NatsConnection;
let rpc: RpcClient;
let taskId: string;
const topologyAsked: string[] = [];
const live: DeviceTaskChangedV1[] = [];
let liveSub: Subscription;

/** A report as it travels; without `parent` for the older agent. */
const report = (deviceId: string, seq: number, state: 'downloading' | 'succeeded', bytes: { origin: number; multicast: number; peer: number; parent?: number }) => ({
  ...statusReport(taskId, deviceId, seq, state),
  bytes,
});
const send = (r: ReturnType<typeof report>) => nc.jetstream().publish(DeviceStatusReported.subject(r.deviceId), encodeJson(r));

describe('bytes by source per device, subnet and office (real NATS, Postgres, service)', () => {
  before(async () => {
    h = await startTasksHarness('tasks_office_bytes');
    ({ nc, rpc } = h);
    standInForInventoryAndTopology(nc, { targets: TARGETS, subnetOf, placements, onOfficeAsked: (deviceId) => topologyAsked.push(deviceId) });
    liveSub = nc.subscribe(DeviceTaskChanged.allTasks(), {
      callback: (e, m) => {
        if (e) return;
        const decoded = decodeJson(m.data);
        if (!decoded.ok) return;
        const parsed = deviceTaskChangedV1Schema.safeParse(decoded.value);
        if (parsed.success) live.push(parsed.data);
      },
    });
    await nc.flush();
    const pkg = await rpc.call(TasksRpc.createPackage, { name: 'office-tool', version: '1.0.0', platform: 'linux', installCommand: '/bin/true' });
    await rpc.call(TasksRpc.attachContent, { packageId: pkg.id, contentId: h.origin.add(randomBytes(SIZE)).contentId });
    taskId = (await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'cache-only', targets: { deviceIds: TARGETS } })).id;
  });

  after(async () => {
    liveSub?.unsubscribe();
    await h?.stop();
  });

  test('parent bytes per device, subnet, hour and live update; WAN and saved bytes per office', async () => {
    // e-1 takes the lease through the swarm: its office is recorded there.
    const view = await rpc.callAsDevice(TasksDeviceRpc.swarmAnnounce, 'e-1', { taskId, peerPort: 47480, complete: false, runs: [], upstream: true });
    assert.deepEqual([view.office?.id, view.parentOffice?.id, view.upstream.mine], ['east', 'hq', true]);
    const askedBeforeReports = topologyAsked.length;

    await send(report('e-1', 1, 'downloading', { origin: 0, parent: 1000, multicast: 0, peer: 0 }));
    await send(report('e-1', 2, 'succeeded', { origin: 96, parent: 4000, multicast: 0, peer: 0 }));
    await send(report('e-2', 1, 'succeeded', { origin: 0, parent: 0, multicast: 0, peer: SIZE }));
    await send(report('w-1', 1, 'succeeded', { origin: SIZE, parent: 0, multicast: 0, peer: 0 }));
    await send(report('w-2', 1, 'succeeded', { origin: 100, multicast: 1000, peer: 2996 }));
    await send(report('u-1', 1, 'succeeded', { origin: SIZE, parent: 0, multicast: 0, peer: 0 }));
    await send(report('x-1', 1, 'succeeded', { origin: SIZE, parent: 0, multicast: 0, peer: 0 }));

    // The offices are recorded right after each batch: wait until every placed device has one.
    const summary = await waitFor(
      async () => {
        const s = await rpc.call(TasksRpc.getTaskSummary, { id: taskId });
        const placedDevices = (s.offices ?? []).filter((o) => o.officeId !== null).reduce((n, o) => n + o.devices, 0);
        return s.counts.succeeded === TARGETS.length && placedDevices === 4 ? s : null;
      },
      { timeoutMs: 15_000, description: 'every report applied and every placed device in its office' },
    );

    // Per device: parent bytes apart from peer; the older agent's report reads 0 from the parent.
    const { items } = await rpc.call(TasksRpc.listTaskDevices, { id: taskId, limit: 100, offset: 0 });
    const device = (id: string) => items.find((d) => d.deviceId === id)!;
    assert.deepEqual(device('e-1').bytes, { origin: 96, parent: 4000, multicast: 0, peer: 0 });
    assert.deepEqual(device('e-2').bytes, { origin: 0, parent: 0, multicast: 0, peer: SIZE });
    assert.deepEqual(device('w-2').bytes, { origin: 100, parent: 0, multicast: 1000, peer: 2996 });
    assert.deepEqual(
      Object.fromEntries(items.map((d) => [d.deviceId, d.officeId])),
      { 'e-1': 'east', 'e-2': 'east', 'u-1': null, 'w-1': 'west', 'w-2': 'west', 'x-1': null },
    );

    // The task and its subnets.
    assert.deepEqual(summary.bytes, { origin: 96 + SIZE + 100 + 2 * SIZE, parent: 4000, multicast: 1000, peer: SIZE + 2996 });
    const subnet = (cidr: string) => summary.subnets.find((s) => s.subnet === cidr)!.bytes;
    assert.deepEqual(subnet(EAST), { origin: 96, parent: 4000, multicast: 0, peer: SIZE });
    assert.deepEqual(subnet(WEST), { origin: SIZE + 100, parent: 0, multicast: 1000, peer: 2996 });

    // Per office: WAN = origin + parent, saved = multicast + peer; most WAN first, no office last.
    assert.deepEqual(
      summary.offices?.map((o) => [o.officeId, o.name, o.devices, o.wanBytes, o.savedBytes]),
      [
        ['west', 'West branch', 2, SIZE + 100, 3996],
        ['east', 'East branch', 2, 4096, SIZE],
        [null, null, 2, 2 * SIZE, 0],
      ],
    );
    assert.deepEqual(summary.offices?.[1]?.bytes, { origin: 96, parent: 4000, multicast: 0, peer: SIZE });
    // The task as GET /v1/tasks/{id} gives it has the same offices.
    assert.deepEqual((await rpc.call(TasksRpc.getTask, { id: taskId })).summary.offices, summary.offices);
    // e-1's office came from its announce: the reports asked the topology about the others only.
    assert.ok(!topologyAsked.slice(askedBeforeReports).includes('e-1'), `asked after the reports: ${topologyAsked.slice(askedBeforeReports).join(', ')}`);

    // The hourly figures behind the WAN savings report.
    const hour = 3600_000;
    const bySubnet = await waitFor(
      async () => {
        const r = await rpc.call(ReportsRpc.bytesBySubnet, { from: new Date(Date.now() - hour).toISOString(), to: new Date(Date.now() + hour).toISOString() });
        return r.items.find((i) => i.subnet === EAST)?.bytes.parent === 4000 && r.items.some((i) => i.subnet === OTHER) ? r : null;
      },
      { timeoutMs: 10_000, description: 'the hourly figures' },
    );
    assert.deepEqual(bySubnet.items.find((i) => i.subnet === EAST)!.bytes, { origin: 96, parent: 4000, multicast: 0, peer: SIZE });

    // The live updates carry parent bytes too.
    await waitFor(() => live.some((c) => c.taskId === taskId && c.deviceId === 'e-1' && c.state === 'succeeded'), { timeoutMs: 5000, description: "e-1's live update" });
    // Both reports in one batch apply only the later one: one update, else two.
    const e1 = live.filter((c) => c.taskId === taskId && c.deviceId === 'e-1');
    assert.deepEqual(e1.map((c) => c.bytes.parent), [1000, 4000].slice(-e1.length));
  });
});
