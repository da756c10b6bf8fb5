import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { JsMsg, NatsConnection, nanos } from 'nats';
import { ASSIGNMENTS_KEPT_PER_DEVICE, DeviceStatusReported, DeviceStatusV1, Streams, TaskAssignedV2, TasksRpc } from '@fleetcast/contracts';
import { encodeJson, RpcClient } from '@fleetcast/nats';
import { waitFor } from '@fleetcast/testing';
import { resendDelaysSeconds } from '../src/tasks/assignment-resend';
import { assignmentMessages, startTasksHarness, TasksHarness } from './support/tasks-harness';

/**
 * Resends with back-off and a cap, and the stream's per-device limit, against real NATS, Postgres
 * and the tasks service as a process. The stream exists before the service starts, as an earlier
 * version made it (no limits, a device subject already over the limit): the service's start
 * updates it in place.
 */
/** Small enough for a test: resends 1, 2 and 4 s apart, then none. */
const POLICY = { firstDelaySeconds: 1, maxDelaySeconds: 4, maxResends: 3 };
const FLOODED = 'flooded-dev';
const OLD_COPIES = ASSIGNMENTS_KEPT_PER_DEVICE + 22;

let h: TasksHarness;
let nc: NatsConnection;
let rpc: RpcClient;
let origin: TasksHarness['origin'];

/** Every message of TASK_ASSIGNMENTS on one subject, oldest first. */
const messagesOn = (subject: string): Promise<JsMsg[]> => assignmentMessages(nc, subject);

const copiesFor = async (deviceId: string, taskId: string) =>
  (await messagesOn(TaskAssignedV2.subject(deviceId))).filter((m) => (JSON.parse(Buffer.from(m.data).toString()) as TaskAssignedV2).assignment.document.taskId === taskId);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('assignment resends and the assignment stream limits (real NATS, Postgres, service)', () => {
  before(async () => {
    h = await startTasksHarness('tasks_resend', {
      env: {
        ASSIGNMENT_RESEND_SECONDS: String(POLICY.firstDelaySeconds),
        ASSIGNMENT_RESEND_MAX_SECONDS: String(POLICY.maxDelaySeconds),
        ASSIGNMENT_RESEND_LIMIT: String(POLICY.maxResends),
      },
      // The stream as an earlier version made it: age and duplicate window only. One device's subject
      // already holds more copies than the new limit keeps.
      beforeStart: async (admin) => {
        const jsm = await admin.jetstreamManager();
        await jsm.streams.add({ name: Streams.taskAssignments.name, subjects: Streams.taskAssignments.subjects, max_age: nanos(Streams.taskAssignments.maxAgeSeconds * 1000) });
        for (let i = 0; i < OLD_COPIES; i++) await admin.jetstream().publish(TaskAssignedV2.subject(FLOODED), encodeJson({ copy: i }));
      },
    });
    ({ nc, rpc, origin } = h);
  });

  after(() => h?.stop());

  test("the service's start updates the existing stream to its limits; one device's subject keeps the newest N copies", async () => {
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(Streams.taskAssignments.name);
    assert.equal(info.config.max_msgs_per_subject, ASSIGNMENTS_KEPT_PER_DEVICE);
    assert.equal(info.config.max_bytes, Streams.taskAssignments.maxBytes);
    assert.equal(info.config.discard, 'old');
    // The update dropped the oldest copies beyond the limit at once.
    const kept = await messagesOn(TaskAssignedV2.subject(FLOODED));
    assert.equal(kept.length, ASSIGNMENTS_KEPT_PER_DEVICE);
    assert.deepEqual(JSON.parse(Buffer.from(kept[0]!.data).toString()), { copy: OLD_COPIES - ASSIGNMENTS_KEPT_PER_DEVICE });

    // And goes on doing so for new messages; other devices' subjects are not touched.
    for (let i = 0; i < 10; i++) await nc.jetstream().publish(TaskAssignedV2.subject(FLOODED), encodeJson({ copy: OLD_COPIES + i }));
    await nc.jetstream().publish(TaskAssignedV2.subject('quiet-dev'), encodeJson({ copy: 0 }));
    const after = await messagesOn(TaskAssignedV2.subject(FLOODED));
    assert.equal(after.length, ASSIGNMENTS_KEPT_PER_DEVICE);
    assert.deepEqual(JSON.parse(Buffer.from(after.at(-1)!.data).toString()), { copy: OLD_COPIES + 9 });
    assert.equal((await messagesOn(TaskAssignedV2.subject('quiet-dev'))).length, 1);

    // The other streams got their limits too (the service ensures every stream it uses).
    const scans = await jsm.streams.info(Streams.inventoryScans.name);
    assert.equal(scans.config.max_msgs_per_subject, Streams.inventoryScans.maxMsgsPerSubject);
    assert.equal(scans.config.max_bytes, Streams.inventoryScans.maxBytes);
  });

  test('a device that never acknowledges gets a bounded number of resends with growing gaps; one that acknowledges gets no more', async () => {
    const pkg = await rpc.call(TasksRpc.createPackage, { name: 'resend-tool', version: '1.0.0', platform: 'linux', installCommand: '/bin/true' });
    const stored = origin.add(randomBytes(64 * 1024 + 3));
    await rpc.call(TasksRpc.attachContent, { packageId: pkg.id, contentId: stored.contentId });
    const task = await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'install', targets: { deviceIds: ['silent-dev', 'acking-dev'] } });

    // The acknowledging device reports `queued` as soon as its first copy is there.
    await waitFor(async () => (await copiesFor('acking-dev', task.id)).length > 0, { timeoutMs: 10_000, description: 'the first copy for acking-dev' });
    const ack: DeviceStatusV1 = {
      taskId: task.id,
      deviceId: 'acking-dev',
      seq: 1,
      state: 'queued',
      reportedAt: new Date().toISOString(),
      bytes: { origin: 0, parent: 0, multicast: 0, peer: 0 },
      reason: null,
      hashVerified: false,
      exitCode: null,
      outputTail: null,
    };
    await nc.jetstream().publish(DeviceStatusReported.subject('acking-dev'), encodeJson(ack));

    const delays = resendDelaysSeconds(POLICY);
    const expected = 1 + delays.length;
    const copies = await waitFor(async () => {
      const c = await copiesFor('silent-dev', task.id);
      return c.length >= expected ? c : null;
    }, { timeoutMs: 30_000, intervalMs: 200, description: `${expected} copies for silent-dev` });
    // Past the last delay and then some: nothing more comes.
    await sleep(POLICY.maxDelaySeconds * 1000 + 1500);
    const finalCopies = await copiesFor('silent-dev', task.id);
    assert.equal(finalCopies.length, expected, `the first copy and ${delays.length} resends, no more`);

    const at = finalCopies.map((m) => m.info.timestampNanos / 1e6);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    console.log(`# resend gaps for a silent device: ${gaps.map((g) => `${Math.round(g)} ms`).join(', ')} (schedule ${delays.join(', ')} s)`);
    for (let i = 0; i < gaps.length; i++) {
      // The scheduler ticks every 100 ms and the outbox relays at once: a gap is its delay, a little more.
      assert.ok(gaps[i]! >= delays[i]! * 1000 - 250, `gap ${i + 1}: ${gaps[i]} ms >= ${delays[i]} s`);
      assert.ok(gaps[i]! < delays[i]! * 1000 + 2500, `gap ${i + 1}: ${gaps[i]} ms close to ${delays[i]} s`);
      if (i > 0) assert.ok(gaps[i]! > gaps[i - 1]!, `gaps grow: ${gaps.join(', ')}`);
    }
    // Every resend is signed again for the same window: the document changes only in issuedAt.
    const docs = finalCopies.map((m) => (JSON.parse(Buffer.from(m.data).toString()) as TaskAssignedV2).assignment.document);
    assert.equal(new Set(docs.map((d) => d.expiresAt)).size, 1);

    // The acknowledged device: its first copy, at most one resend that raced the acknowledgement, then none.
    const acked = await copiesFor('acking-dev', task.id);
    assert.ok(acked.length <= 2, `acking-dev got ${acked.length} copies`);
    const devices = (await rpc.call(TasksRpc.listTaskDevices, { id: task.id })).items;
    assert.deepEqual(devices.map((d) => [d.deviceId, d.state]), [['acking-dev', 'queued'], ['silent-dev', 'pending']]);
  });
});
