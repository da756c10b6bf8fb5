import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { NatsConnection } from 'nats';
import { DeviceOffice, ErrorCode, FleetcastError, TasksDeviceRpc, TasksRpc } from '@fleetcast/contracts';
import { publicKeyFromDer, verifyPeerPassSignature } from '@fleetcast/content';
import { RpcClient } from '@fleetcast/nats';
import { startTasksHarness, TasksHarness } from './support/tasks-harness';
import { placedDevice, standInForInventoryAndTopology } from './support/topology-standin';

/**
 * The swarm's view (docs/p2p.md) against real NATS (operator mode), Postgres and the service; the
 * inventory and the topology service stood in for by responders: three devices of the `east`
 * branch (below `hq`), one of a vpn office, one unplaced, one the topology does not know.
 */
const PORT = 47471;
const offices = {
  hq: { id: 'hq', name: 'HQ', type: 'default' as const },
  east: { id: 'east', name: 'East', type: 'default' as const },
  remote: { id: 'remote', name: 'Remote workers', type: 'vpn' as const },
};
const placements: Record<string, DeviceOffice> = {
  'e-1': placed('e-1', offices.east, '10.62.1.11'),
  'e-2': placed('e-2', offices.east, '10.62.1.12'),
  'e-3': placed('e-3', offices.east, '10.62.1.13'),
  'v-1': placed('v-1', offices.remote, '10.99.0.7'),
  'u-1': { ...placed('u-1', offices.hq, '192.168.7.7'), placed: false, address: null, parents: [] },
};
const TARGETS = [...Object.keys(placements), 'x-1'];

function placed(deviceId: string, office: DeviceOffice['office'], address: string): DeviceOffice {
  return placedDevice(deviceId, office, address, office.id === 'hq' ? [] : [offices.hq]);
}

let h: TasksHarness;
let nc: NatsConnection;
let rpc: RpcClient;
let taskId: string;
let contentId: string;

const announce = (deviceId: string, body: Partial<{ complete: boolean; runs: Array<{ first: number; count: number }>; upstream: boolean; peerPort: number | null }> = {}) =>
  rpc.callAsDevice(TasksDeviceRpc.swarmAnnounce, deviceId, { taskId, peerPort: PORT, complete: false, runs: [], upstream: false, ...body });

describe('the swarm view and peer passes (real NATS, Postgres, service)', () => {
  before(async () => {
    h = await startTasksHarness('tasks_swarm');
    ({ nc, rpc } = h);
    standInForInventoryAndTopology(nc, { targets: TARGETS, placements });
    await nc.flush();
    const pkg = await rpc.call(TasksRpc.createPackage, { name: 'swarm-tool', version: '1.0.0', platform: 'linux', installCommand: '/bin/true' });
    contentId = h.origin.add(randomBytes(4096)).contentId;
    await rpc.call(TasksRpc.attachContent, { packageId: pkg.id, contentId });
    taskId = (await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'cache-only', targets: { deviceIds: TARGETS } })).id;
  });

  after(() => h?.stop());

  test('one device of the office holds the upstream lease; the others see it and its blocks once it holds some', async () => {
    const first = await announce('e-1', { upstream: true });
    assert.equal(first.contentId, contentId);
    assert.deepEqual([first.office?.id, first.parentOffice?.id, first.noSwarmReason], ['east', 'hq', null]);
    assert.deepEqual(first.upstream.mine && first.upstream.deviceId, 'e-1');

    // e-2 asks for the lease too: e-1 holds it. e-1 holds nothing yet, so it is named to nobody.
    const second = await announce('e-2', { upstream: true });
    assert.deepEqual([second.upstream.deviceId, second.upstream.mine, second.peers], ['e-1', false, []]);

    await announce('e-1', { upstream: true, runs: [{ first: 0, count: 2 }] });
    const third = await announce('e-2', { upstream: true });
    assert.deepEqual(third.peers, [{ deviceId: 'e-1', url: `http://10.62.1.11:${PORT}`, complete: false, runs: [{ first: 0, count: 2 }] }]);
    // The lease holder renews it by announcing.
    assert.equal((await announce('e-1', { upstream: true, runs: [{ first: 0, count: 3 }] })).upstream.mine, true);
  });

  test('a device that completes gives the lease up and stands as a complete holder; the next asker takes the lease', async () => {
    await announce('e-1', { complete: true });
    const view = await announce('e-3', { upstream: true });
    assert.equal(view.upstream.deviceId, 'e-3');
    assert.ok(view.upstream.mine);
    const e1 = view.peers.find((p) => p.deviceId === 'e-1');
    assert.deepEqual(e1, { deviceId: 'e-1', url: `http://10.62.1.11:${PORT}`, complete: true, runs: [] });
    // Complete holders first.
    assert.equal(view.peers[0]!.deviceId, 'e-1');
  });

  test('a device that serves nobody fetches but is named to nobody', async () => {
    await announce('e-3', { peerPort: null, runs: [{ first: 0, count: 1 }], upstream: true });
    const view = await announce('e-2');
    assert.ok(!view.peers.some((p) => p.deviceId === 'e-3'), JSON.stringify(view.peers));
  });

  test('a vpn office, an unplaced device and one the topology does not know take no part, and are named to nobody', async () => {
    const vpn = await announce('v-1', { runs: [{ first: 0, count: 1 }] });
    assert.match(vpn.noSwarmReason ?? '', /vpn office/);
    assert.deepEqual([vpn.peers, vpn.parentPeers, vpn.upstream.mine], [[], [], true]);
    const unplaced = await announce('u-1', { runs: [{ first: 0, count: 1 }] });
    assert.match(unplaced.noSwarmReason ?? '', /unplaced/);
    const unknown = await announce('x-1', { runs: [{ first: 0, count: 1 }] });
    assert.match(unknown.noSwarmReason ?? '', /has not placed device x-1/);
    const east = await announce('e-2');
    assert.deepEqual(east.peers.map((p) => p.deviceId).sort(), ['e-1']);
  });

  test('a device that is not a target of the task is refused, and bad announces get a clear error', async () => {
    await assert.rejects(
      rpc.callAsDevice(TasksDeviceRpc.swarmAnnounce, 'stranger', { taskId, peerPort: PORT, complete: false, runs: [], upstream: true }),
      (error: unknown) => error instanceof FleetcastError && error.code === ErrorCode.DeviceNotFound && /not a target/.test(error.message),
    );
    await assert.rejects(
      rpc.callAsDevice(TasksDeviceRpc.swarmAnnounce, 'e-2', { taskId, peerPort: 70_000, complete: false, runs: [], upstream: true }),
      (error: unknown) => error instanceof FleetcastError && error.code === ErrorCode.ContractInvalid,
    );
    await assert.rejects(
      rpc.callAsDevice(TasksDeviceRpc.swarmAnnounce, 'e-2', { taskId, peerPort: PORT, complete: false, runs: [{ first: -1, count: 0 }], upstream: true }),
      (error: unknown) => error instanceof FleetcastError && error.code === ErrorCode.ContractInvalid,
    );
    // The service still answers after them.
    assert.equal((await announce('e-2')).office?.id, 'east');
  });

  test('a peer pass names the device, its office and the parent office, signed by the key devices pin', async () => {
    const pass = await rpc.callAsDevice(TasksDeviceRpc.getPeerPass, 'e-2', {});
    assert.deepEqual([pass.document.deviceId, pass.document.officeId, pass.document.parentOfficeId], ['e-2', 'east', 'hq']);
    assert.ok(Date.parse(pass.document.expiresAt) > Date.now() + 5 * 60_000);
    const key = await rpc.call(TasksRpc.getSigningKey, {});
    assert.equal(pass.keyId, key.keyId);
    const signed = { value: pass.document, keyId: pass.keyId, signature: new Uint8Array(Buffer.from(pass.signature, 'base64')) };
    assert.ok(verifyPeerPassSignature(signed, publicKeyFromDer(Buffer.from(key.publicKeyDer, 'base64'))));
    assert.ok(!verifyPeerPassSignature({ ...signed, value: { ...pass.document, officeId: 'hq' } }, publicKeyFromDer(Buffer.from(key.publicKeyDer, 'base64'))));
    // An unplaced device's pass names no office: only devices outside any office (no topology) serve it.
    const unplaced = await rpc.callAsDevice(TasksDeviceRpc.getPeerPass, 'u-1', {});
    assert.deepEqual([unplaced.document.officeId, unplaced.document.parentOfficeId], [null, null]);
  });
});
