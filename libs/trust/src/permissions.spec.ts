import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DevicePlaced, DeviceStatusReported, DeviceTaskChanged, Streams, TaskAssignedV2, TaskCancel, TaskChanged, TasksDeviceRpc, TasksRpc, TopologyChanged, TopologyDeviceRpc, TopologyRpc } from '@fleetcast/contracts';
import { branchLeafPermissions, branchLeafSystemPermissions, devicePermissions, SERVICE_ROLES, servicePermissions } from './permissions';

/** NATS subject matching with `*` and `>`, as the server applies an allow list. */
function matches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length || (f[i] !== '*' && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}
const allows = (list: { allow: string[]; deny?: string[] }, subject: string) =>
  list.allow.some((f) => matches(f, subject)) && !(list.deny ?? []).some((f) => matches(f, subject));

describe('NATS permissions for the topology service', () => {
  it('is a service with its own user', () => {
    assert.ok(SERVICE_ROLES.includes('topology'));
  });

  it('serves its own requests, publishes its events and asks the inventory, nothing of the other domains', () => {
    const p = servicePermissions('topology');
    for (const rpc of Object.values(TopologyRpc)) assert.ok(allows(p.sub, rpc.subject), rpc.subject);
    assert.ok(allows(p.sub, TopologyDeviceRpc.getPolicy.subject));
    assert.ok(allows(p.pub, TopologyChanged.subject()));
    assert.ok(allows(p.pub, DevicePlaced.subject('dev-1')));
    assert.ok(allows(p.pub, 'inventory.qry.device.list.v1'));
    assert.ok(!allows(p.pub, 'tasks.cmd.task.create.v1'));
    assert.ok(!allows(p.pub, 'licensing.cmd.license.install.v1'));
  });

  it('lets the gateway and the activation (licensing) ask every topology request, and the other services none', () => {
    for (const rpc of Object.values(TopologyRpc)) assert.ok(allows(servicePermissions('gateway').pub, rpc.subject), rpc.subject);
    assert.ok(allows(servicePermissions('licensing').pub, TopologyRpc.upload.subject), 'an activation uploads a generated topology');
    for (const role of ['inventory', 'tasks', 'origin', 'webhooks'] as const) assert.ok(!allows(servicePermissions(role).pub, TopologyRpc.upload.subject), role);
    assert.ok(!allows(servicePermissions('gateway').sub, TopologyRpc.upload.subject));
  });

  it("lets a device ask for its own deletion notice, not another device's; the gateway may delete packages", () => {
    const p = devicePermissions('dev-1');
    assert.ok(allows(p.pub, TasksDeviceRpc.getContentDeletions.subjectFor('dev-1')));
    assert.ok(!allows(p.pub, TasksDeviceRpc.getContentDeletions.subjectFor('dev-2')));
    assert.ok(!allows(p.pub, TasksRpc.deletePackage.subject));
    assert.ok(allows(servicePermissions('gateway').pub, TasksRpc.deletePackage.subject));
  });

  it('lets a device ask its own office policy and hear its own placements and the topology broadcast, no other device\'s', () => {
    const p = devicePermissions('dev-1');
    assert.ok(allows(p.pub, TopologyDeviceRpc.getPolicy.subjectFor('dev-1')));
    assert.ok(!allows(p.pub, TopologyDeviceRpc.getPolicy.subjectFor('dev-2')));
    assert.ok(!allows(p.pub, TopologyRpc.deviceOffice.subject));
    assert.ok(allows(p.sub, TopologyChanged.subject()));
    assert.ok(allows(p.sub, DevicePlaced.subject('dev-1')));
    assert.ok(!allows(p.sub, DevicePlaced.subject('dev-2')));
  });
});

describe('NATS permissions for cancellations and live task updates', () => {
  it('lets a device receive its own assignments and cancellations, no other device\'s', () => {
    const p = devicePermissions('dev-1');
    assert.ok(allows(p.sub, TaskAssignedV2.subject('dev-1')));
    assert.ok(allows(p.sub, TaskCancel.subject('dev-1')));
    assert.ok(!allows(p.sub, TaskCancel.subject('dev-2')));
    assert.ok(!allows(p.pub, TaskCancel.subject('dev-1')), 'a device cannot cancel for itself or others');
    assert.ok(allows(p.pub, '$JS.API.CONSUMER.CREATE.TASK_ASSIGNMENTS.replay-dev-1.tasks.cmd.device.*.*.dev-1'));
    assert.ok(!allows(p.pub, '$JS.API.CONSUMER.CREATE.TASK_ASSIGNMENTS.replay-dev-1.tasks.cmd.device.*.*.dev-2'));
  });

  it('lets only the tasks service publish cancellations; the gateway hears live updates and asks cancel and retry', () => {
    assert.ok(allows(servicePermissions('tasks').pub, TaskCancel.subject('dev-1')));
    assert.ok(allows(servicePermissions('tasks').pub, TaskChanged.subject('t-1')));
    const gateway = servicePermissions('gateway');
    assert.ok(!allows(gateway.pub, TaskCancel.subject('dev-1')));
    assert.ok(allows(gateway.pub, TasksRpc.cancelTask.subject));
    assert.ok(allows(gateway.pub, TasksRpc.retryTask.subject));
    assert.ok(allows(gateway.sub, TaskChanged.subject('t-1')));
    assert.ok(allows(gateway.sub, DeviceTaskChanged.subject('t-1')));
    for (const role of SERVICE_ROLES.filter((r) => r !== 'tasks')) assert.ok(!allows(servicePermissions(role).pub, TaskCancel.subject('dev-1')), role);
  });
});

describe('NATS permissions of a branch leaf node', () => {
  const leaf = branchLeafPermissions();
  /** The concrete subjects a device uses, from its own allow list with the version wildcard filled in. */
  const concrete = (subject: string) => subject.replace(/\.\*(\.|$)/g, '.v1$1').replace(/^\$JS\.v1\./, '$JS.core.');

  it("carries every device's traffic, under any device ID and with or without the core's JetStream domain", () => {
    for (const id of ['dev-1', 'Branch_Laptop-042']) {
      const device = devicePermissions(id);
      for (const subject of device.pub.allow.map(concrete)) assert.ok(allows(leaf.pub, subject), `publish ${subject}`);
      for (const subject of device.sub.allow.map(concrete)) assert.ok(allows(leaf.sub, subject.replace('>', 'x')), `subscribe ${subject}`);
    }
  });

  it("announces the core's stream interest to the leaf: the streams' own subjects are covered whole", () => {
    // The core forwards interest in `<base>.>` only to a link that may publish all of it.
    assert.ok(leaf.pub.allow.includes(`${DeviceStatusReported.subject('x').split('.').slice(0, -2).join('.')}.>`));
    assert.ok(Streams.deviceStatus.subjects.every((s) => leaf.pub.allow.includes(s)));
  });

  it("gives a stolen branch server nothing of a service's: no commands, no other queries, no JetStream administration", () => {
    for (const subject of [TasksRpc.createTask.subject, 'tasks.cmd.device.assign.v1.dev-1', 'inventory.qry.device.list.v1', '$JS.API.STREAM.DELETE.TASK_STATUS', '$JS.core.API.STREAM.PURGE.TASK_STATUS', 'licensing.cmd.license.install.v1']) {
      assert.ok(!allows(leaf.pub, subject), `may not publish ${subject}`);
    }
    assert.ok(!allows(leaf.sub, 'tasks.evt.device-status.reported.v1.dev-1'), "may not listen to other devices' reports");
    assert.ok(!allows(leaf.sub, '_INBOX.abc'), "may not listen to the services' inboxes");
  });

  it('learns account updates over its system link and administers nothing', () => {
    const system = branchLeafSystemPermissions();
    assert.ok(allows(system.sub, '$SYS.REQ.CLAIMS.UPDATE'));
    assert.ok(allows(system.sub, '$SYS.REQ.ACCOUNT.AABC.CLAIMS.UPDATE'));
    for (const subject of ['$SYS.REQ.SERVER.PING', '$SYS.REQ.CLAIMS.UPDATE', '$SYS.REQ.ACCOUNT.AABC.CLAIMS.DELETE']) assert.ok(!allows(system.pub, subject), `may not publish ${subject}`);
  });
});
