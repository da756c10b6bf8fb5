import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { AckPolicy, DeliverPolicy, JsMsg, NatsConnection, connect } from 'nats';
import {
  DeadLettered,
  DeviceTaskFailed,
  DeviceTaskFailedV1,
  TaskCompleted,
  TaskCompletedV1,
  DeviceStatusReported,
  DeviceStatusReportedV2,
  LanIssueCode,
  DeviceStatusV1,
  ErrorCode,
  FleetcastError,
  InventoryRpc,
  MANIFEST_PAGE_BLOCKS,
  ResolvedTargetsPage,
  RpcReply,
  SettingsChanged,
  Streams,
  TaskAssignedV2,
  TasksDeviceRpc,
  TasksRpc,
} from '@fleetcast/contracts';
import { assembleManifestPages, fromWire, publicKeyFromDer, verifyContentDeletionsSignature, verifyManifestSignature } from '@fleetcast/content';
import { createClaimSigner, createClaimVerifier, createPacketTagger, decodePacket, encodePacket, rawPublicKeyOf, senderIdOf, sessionIdOf } from '@fleetcast/lan-protocol';
import { encodeJson, RpcClient } from '@fleetcast/nats';
import { OriginStub } from './origin-stub';
import { createTestDatabase, NatsServer, NodeProcess, runMigrateCommand, startNatsServer, stopAll, TestDatabase, waitFor } from '@fleetcast/testing';
import { TASKS_MIGRATIONS } from '../src/migrations';
import { startTasksService } from './support/tasks-harness';

let nats: NatsServer;
let origin: OriginStub;
let db: TestDatabase;
let nc: NatsConnection;
let rpc: RpcClient;
const services: NodeProcess[] = [];

async function startTasks(extraEnv: Record<string, string> = {}): Promise<{ proc: NodeProcess; port: number }> {
  const started = await startTasksService({ nats, db, origin }, `tasks-${services.length + 1}`, extraEnv);
  services.push(started.proc);
  return started;
}

/** Reads every message of a stream under a subject filter, from the start. */
async function readStream(filter: string, stream: string): Promise<JsMsg[]> {
  const jsm = await nc.jetstreamManager();
  const name = `t${randomBytes(6).toString('hex')}`;
  await jsm.consumers.add(stream, { name, filter_subject: filter, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 10e9 });
  const consumer = await nc.jetstream().consumers.get(stream, name);
  const pending = (await consumer.info()).num_pending;
  const out: JsMsg[] = [];
  if (pending > 0) {
    const iter = await consumer.fetch({ max_messages: pending, expires: 5000 });
    for await (const m of iter) out.push(m);
  }
  await jsm.consumers.delete(stream, name);
  return out;
}

async function readyPackage(bytes = randomBytes(3 * 1024 * 1024 + 5)) {
  const pkg = await rpc.call(TasksRpc.createPackage, { name: 'agent-tool', version: '1.2.3', platform: 'linux', installCommand: '/bin/true' });
  const stored = origin.add(bytes);
  const ready = await rpc.call(TasksRpc.attachContent, { packageId: pkg.id, contentId: stored.contentId });
  return { pkg: ready, manifest: { ...stored, blockHashes: stored.blockHashBytes } };
}

const report = (taskId: string, deviceId: string, seq: number, state: DeviceStatusV1['state'], origin = 0): DeviceStatusV1 => ({
  taskId,
  deviceId,
  seq,
  state,
  reportedAt: new Date().toISOString(),
  bytes: { origin, parent: 0, multicast: 0, peer: 0 },
  reason: null,
  hashVerified: state === 'succeeded',
  exitCode: state === 'succeeded' ? 0 : null,
  outputTail: null,
});

describe('tasks service (real NATS, real Postgres, service as a process)', () => {
  before(async () => {
    nats = await startNatsServer();
    origin = await new OriginStub().start();
    db = await createTestDatabase('tasks');
    await startTasks();
    nc = await connect(nats.adminConnectOptions());
    rpc = new RpcClient(nc);
  });

  after(async () => {
    await nc?.close();
    await stopAll();
    await origin?.stop();
    await db?.drop();
  });

  test('a package gets content and a manifest signed with the control-plane key', async () => {
    const { pkg, manifest } = await readyPackage();
    assert.equal(pkg.status, 'ready');
    assert.equal(pkg.contentId, manifest.contentId);
    const signed = fromWire(await rpc.call(TasksRpc.getManifest, { contentId: manifest.contentId }));
    const key = await rpc.call(TasksRpc.getSigningKey, {});
    assert.ok(verifyManifestSignature(signed, publicKeyFromDer(Buffer.from(key.publicKeyDer, 'base64'))));
    assert.deepEqual(Buffer.from(signed.value.blockHashes), Buffer.from(manifest.blockHashes));
    // Attaching the same content again is a no-op; other content is refused.
    const again = await rpc.call(TasksRpc.attachContent, { packageId: pkg.id, contentId: manifest.contentId });
    assert.equal(again.contentId, manifest.contentId);
    await assert.rejects(
      rpc.call(TasksRpc.attachContent, { packageId: pkg.id, contentId: origin.add(randomBytes(10)).contentId }),
      (e: FleetcastError) => e.code === ErrorCode.ContentMismatch,
    );
  });

  test("a 100 GiB package's manifest comes in pages under NATS's payload limit and verifies whole", async () => {
    // 102,400 blocks: 3.2 MiB of hashes, three times what one NATS message may carry.
    const size = 100 * 1024 * 1024 * 1024;
    const blockHashes = randomBytes((size / 1048576) * 32);
    const contentId = randomBytes(32).toString('hex');
    origin.describe({ contentId, size, blockSize: 1048576, blockHashes: blockHashes.toString('base64') });
    const pkg = await rpc.call(TasksRpc.createPackage, { name: 'os-image', version: '24.04', platform: 'linux', installCommand: '/bin/true' });
    await rpc.call(TasksRpc.attachContent, { packageId: pkg.id, contentId });
    const pageSizes: number[] = [];
    const signed = await assembleManifestPages(async (fromBlock) => {
      const reply = await nc.request(TasksRpc.getManifest.subject, encodeJson({ contentId, fromBlock }), { timeout: 10_000 });
      pageSizes.push(reply.data.length);
      return rpc.call(TasksRpc.getManifest, { contentId, fromBlock });
    });
    assert.equal(pageSizes.length, Math.ceil(102_400 / MANIFEST_PAGE_BLOCKS));
    assert.ok(pageSizes.every((bytes) => bytes < 1024 * 1024), `every page under 1 MiB: ${pageSizes.join(', ')} bytes`);
    const key = await rpc.call(TasksRpc.getSigningKey, {});
    assert.ok(verifyManifestSignature(signed, publicKeyFromDer(Buffer.from(key.publicKeyDer, 'base64'))), 'the pages put together carry the whole signature');
    assert.deepEqual(Buffer.from(signed.value.blockHashes), blockHashes);
    // A page asked past the end is an empty last page, not an error or a loop.
    const past = await rpc.call(TasksRpc.getManifest, { contentId, fromBlock: 1_000_000 });
    assert.deepEqual([past.blockHashes, past.fromBlock, past.nextBlock], ['', 102_400, null]);
  });

  test('an inconsistent manifest and bad bodies are refused with codes that name the problem', async () => {
    const pkg = await rpc.call(TasksRpc.createPackage, { name: 'x', version: '1', platform: 'windows', installCommand: 'setup.exe' });
    // The origin's account is what gets signed: an inconsistent one is refused, not signed.
    origin.describe({ contentId: 'c'.repeat(64), size: 5 * 1048576, blockSize: 1048576, blockHashes: Buffer.alloc(64).toString('base64') });
    await assert.rejects(
      rpc.call(TasksRpc.attachContent, { packageId: pkg.id, contentId: 'c'.repeat(64) }),
      (e: FleetcastError) => e.code === ErrorCode.ContractInvalid && /expected 5 block hashes, got 2/.test(e.message),
    );
    // Content the origin does not hold cannot be attached, whatever a caller claims about it.
    await assert.rejects(
      rpc.call(TasksRpc.attachContent, { packageId: pkg.id, contentId: 'd'.repeat(64) }),
      (e: FleetcastError) => e.code === ErrorCode.ContentNotFound,
    );
    // Version 1, which took block hashes from the caller, is not served any more.
    const v1 = await nc.request('tasks.cmd.package.attach-content.v1', encodeJson({ packageId: pkg.id, contentId: 'e'.repeat(64), size: 1, blockSize: 1048576, blockHashes: Buffer.alloc(32).toString('base64') }), { timeout: 5000 });
    assert.equal(JSON.parse(Buffer.from(v1.data).toString()).error.code, ErrorCode.ContractUnsupportedVersion);
    await assert.rejects(
      rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'install', targets: { deviceIds: ['d1'] } }),
      (e: FleetcastError) => e.code === ErrorCode.PackageNotReady,
    );
    // A raw request that skips the client's own validation.
    const reply = await nc.request(TasksRpc.createTask.subject, encodeJson({ packageId: pkg.id, action: 'reboot', targets: {} }), { timeout: 5000 });
    const body = JSON.parse(Buffer.from(reply.data).toString());
    assert.equal(body.ok, false);
    assert.equal(body.error.code, 'CONTRACT.INVALID');
    const paths = body.error.details.map((d: { path: string }) => d.path);
    assert.ok(paths.includes('action'), JSON.stringify(body));
    assert.ok(paths.includes('targets'), JSON.stringify(body));
    const junk = await nc.request(TasksRpc.getTask.subject, Buffer.from('{not json'), { timeout: 5000 });
    assert.match(Buffer.from(junk.data).toString(), /CONTRACT.INVALID.*not valid JSON/);
    await assert.rejects(rpc.call(TasksRpc.getTask, { id: 'no-such-task' }), (e: FleetcastError) => e.code === ErrorCode.TaskNotFound);
    // A request of a version nobody serves gets an answer that says so, not a time-out.
    const v2 = await nc.request(TasksRpc.getTask.subject.replace('.v1', '.v2'), encodeJson({ id: 'x' }), { timeout: 5000 });
    const v2Body = JSON.parse(Buffer.from(v2.data).toString());
    assert.equal(v2Body.error.code, 'CONTRACT.UNSUPPORTED_VERSION');
    assert.match(v2Body.error.message, /speaks v1/);
    const unknown = await nc.request('tasks.qry.nothing.here.v1', encodeJson({}), { timeout: 5000 });
    assert.equal(JSON.parse(Buffer.from(unknown.data).toString()).error.code, 'CONTRACT.UNKNOWN_SUBJECT');
  });

  test('a task fans out through the outbox; reports apply once, in order, and complete the task', async () => {
    const { pkg } = await readyPackage();
    const devices = ['dev-a', 'dev-b', 'dev-c'];
    const task = await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'install', targets: { deviceIds: devices } });
    assert.equal(task.status, 'active');
    assert.equal(task.summary.counts.pending, 3);

    const assignments = await waitFor(async () => {
      const msgs = await readStream(`${TaskAssignedV2.subject('x').replace('.x', '.*')}`, Streams.taskAssignments.name);
      const mine = msgs.map((m) => JSON.parse(Buffer.from(m.data).toString()) as TaskAssignedV2).filter((a) => a.assignment.document.taskId === task.id);
      return mine.length === 3 ? mine : null;
    }, { timeoutMs: 10_000, description: 'three assignments in TASK_ASSIGNMENTS' });
    assert.deepEqual(assignments.map((a) => a.assignment.document.deviceId).sort(), devices);
    assert.equal(assignments[0].package.downloadUrl, `http://origin.test:8081/v1/content/${pkg.contentId}`);
    assert.equal(assignments[0].settings.profileId, 'default');

    const js = nc.jetstream();
    const send = (r: DeviceStatusV1) => js.publish(DeviceStatusReported.subject(r.deviceId), encodeJson(r));
    await send(report(task.id, 'dev-a', 1, 'queued'));
    await send(report(task.id, 'dev-a', 3, 'succeeded', 100));
    await send(report(task.id, 'dev-a', 2, 'downloading', 50)); // late: must not move the state back
    await send(report(task.id, 'dev-a', 3, 'succeeded', 100)); // duplicate
    await send(report(task.id, 'dev-b', 1, 'failed'));
    const summary = await waitFor(async () => {
      const s = await rpc.call(TasksRpc.getTaskSummary, { id: task.id });
      return s.counts.succeeded === 1 && s.counts.failed === 1 ? s : null;
    }, { timeoutMs: 10_000, description: 'reports applied' });
    assert.equal(summary.counts.pending, 1);
    assert.equal(summary.bytes.origin, 100);
    const a = (await rpc.call(TasksRpc.listTaskDevices, { id: task.id, state: 'succeeded' })).items;
    assert.deepEqual(a.map((d) => [d.deviceId, d.hashVerified, d.exitCode]), [['dev-a', true, 0]]);

    await send(report(task.id, 'dev-c', 1, 'succeeded'));
    await waitFor(async () => (await rpc.call(TasksRpc.getTask, { id: task.id })).status === 'completed', { timeoutMs: 10_000, description: 'task completed' });

    // What external systems hear, through the outbox: dev-b's failure once, and the completion once.
    const events = await waitFor(async () => {
      const read = (await readStream(`tasks.evt.>`, Streams.taskEvents.name)).map((m) => ({ subject: m.subject, data: JSON.parse(Buffer.from(m.data).toString()) as { taskId: string } }));
      const mine = read.filter((e) => e.data.taskId === task.id);
      return mine.some((e) => e.subject === TaskCompleted.subject()) ? mine : null;
    }, { timeoutMs: 10_000, description: 'task events in TASK_EVENTS' });
    assert.deepEqual(events.map((e) => e.subject), [DeviceTaskFailed.subject(), TaskCompleted.subject()]);
    assert.deepEqual((events[0]!.data as DeviceTaskFailedV1).deviceId, 'dev-b');
    const completed = events[1]!.data as TaskCompletedV1;
    assert.deepEqual([completed.devices, completed.succeeded, completed.failed, completed.action], [3, 2, 1, 'install']);

    // dev-a's history: pending, then what was applied in order (reports that arrive in one batch count
    // as their latest, so `queued` may be folded in); the late `downloading` changed nothing.
    const history = (await rpc.call(TasksRpc.getDeviceHistory, { id: task.id, deviceId: 'dev-a' })).items;
    assert.deepEqual(history[0], { seq: 0, state: 'pending', reason: null, at: history[0]!.at });
    assert.deepEqual(history.at(-1)!.state, 'succeeded');
    assert.ok(!history.some((h) => h.state === 'downloading'), JSON.stringify(history));
    assert.deepEqual(history.map((h) => h.seq), [...history.map((h) => h.seq)].sort((x, y) => x - y), 'in the order applied');
    assert.deepEqual((await rpc.call(TasksRpc.getDeviceHistory, { id: task.id, deviceId: 'dev-b' })).items.map((h) => h.state), ['pending', 'failed']);
    await assert.rejects(rpc.call(TasksRpc.getDeviceHistory, { id: task.id, deviceId: 'dev-z' }), (e: FleetcastError) => e.code === ErrorCode.DeviceNotFound);
  });

  test('the task list filters by status, package and creation time, newest first, and counts the matches', async () => {
    const { pkg: first } = await readyPackage();
    const { pkg: second } = await readyPackage();
    const before = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const a = await rpc.call(TasksRpc.createTask, { packageId: first.id, action: 'cache-only', targets: { deviceIds: ['flt-1'] } });
    const b = await rpc.call(TasksRpc.createTask, { packageId: second.id, action: 'cache-only', targets: { deviceIds: ['flt-1'] } });
    const c = await rpc.call(TasksRpc.createTask, { packageId: second.id, action: 'cache-only', targets: { deviceIds: ['flt-1'] }, startAt: new Date(Date.now() + 3_600_000).toISOString() });
    const ids = (r: { items: Array<{ id: string }> }) => r.items.map((t) => t.id);

    const ofSecond = await rpc.call(TasksRpc.listTasks, { packageId: second.id });
    assert.deepEqual(ids(ofSecond), [c.id, b.id], 'newest first');
    assert.equal(ofSecond.total, 2);
    assert.deepEqual(ids(await rpc.call(TasksRpc.listTasks, { packageId: second.id, status: 'scheduled' })), [c.id]);
    assert.deepEqual(ids(await rpc.call(TasksRpc.listTasks, { packageId: second.id, status: 'active' })), [b.id]);
    const since = await rpc.call(TasksRpc.listTasks, { createdAfter: before, limit: 2 });
    assert.deepEqual(ids(since), [c.id, b.id], 'a page of two');
    assert.equal(since.total, 3, 'the total counts every match, not the page');
    assert.deepEqual(ids(await rpc.call(TasksRpc.listTasks, { createdAfter: before, createdBefore: b.createdAt })), [a.id]);
    await assert.rejects(
      rpc.call(TasksRpc.listTasks, { createdAfter: b.createdAt, createdBefore: before }),
      (e: FleetcastError) => e.code === ErrorCode.ContractInvalid && /createdAfter must be before createdBefore/.test(e.message),
    );
    await assert.rejects(rpc.call(TasksRpc.listTasks, { status: 'exploded' as never }), (e: FleetcastError) => e.code === ErrorCode.ContractInvalid && /status/.test(e.message));
  });

  test('malformed, invalid and unknown-version status reports are dead-lettered; the consumer keeps going', async () => {
    const { pkg } = await readyPackage();
    const task = await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'cache-only', targets: { deviceIds: ['dev-dl'] } });
    const js = nc.jetstream();
    const subject = DeviceStatusReported.subject('dev-dl');
    await js.publish(subject, Buffer.from('{"taskId": '));
    await js.publish(subject, encodeJson({ ...report(task.id, 'dev-dl', 1, 'queued'), state: 'exploded' }));
    await js.publish(subject.replace('.v1.', '.v9.'), encodeJson(report(task.id, 'dev-dl', 1, 'queued')));
    await js.publish(subject, encodeJson(report(task.id, 'dev-dl', 1, 'succeeded')));
    await waitFor(async () => (await rpc.call(TasksRpc.getTaskSummary, { id: task.id })).counts.succeeded === 1, { timeoutMs: 10_000, description: 'valid report after the bad ones is applied' });
    const dead = await waitFor(async () => {
      const msgs = await readStream(DeadLettered.subject('tasks-status-ingest'), Streams.deadLetters.name);
      return msgs.length >= 3 ? msgs.map((m) => JSON.parse(Buffer.from(m.data).toString())) : null;
    }, { timeoutMs: 10_000, description: 'three dead letters' });
    const codes = dead.map((d: { reason: { code: string } }) => d.reason.code).sort();
    assert.deepEqual(codes, ['CONTRACT.INVALID', 'CONTRACT.INVALID', 'CONTRACT.UNSUPPORTED_VERSION']);
    assert.ok(dead.some((d: { reason: { message: string } }) => /state/.test(d.reason.message)), 'the schema failure names the field');
  });

  test('a scheduled task is issued at its start time with its own profile; profile changes are broadcast', async () => {
    const { pkg } = await readyPackage();
    const profile = await rpc.call(TasksRpc.createProfile, { name: 'fast lane', sessionStartDelaySeconds: 5, useMulticast: false });
    const changes: string[] = [];
    nc.subscribe(SettingsChanged.subject(), { callback: (_e, m) => changes.push(JSON.parse(Buffer.from(m.data).toString()).profileId) });
    await nc.flush();
    const startAt = new Date(Date.now() + 1500).toISOString();
    const task = await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'install', targets: { deviceIds: ['dev-s'] }, startAt, profileId: profile.id });
    assert.equal(task.status, 'scheduled');
    const filter = TaskAssignedV2.subject('dev-s');
    assert.equal((await readStream(filter, Streams.taskAssignments.name)).length, 0, 'nothing is sent before the start time');
    const sent = await waitFor(async () => {
      const msgs = (await readStream(filter, Streams.taskAssignments.name)).map((m) => JSON.parse(Buffer.from(m.data).toString()) as TaskAssignedV2);
      return msgs.find((a) => a.assignment.document.taskId === task.id);
    }, { timeoutMs: 10_000, description: 'scheduled assignment sent' });
    assert.ok(Date.parse(sent.assignment.document.issuedAt) >= Date.parse(startAt));
    // Valid from the scheduled start, not from when the task was created.
    assert.equal(Date.parse(sent.assignment.document.notBefore), Date.parse(startAt));
    assert.equal(sent.settings.profileId, profile.id);
    assert.equal(sent.settings.sessionStartDelaySeconds, 5);
    assert.equal(sent.settings.useMulticast, false);
    await rpc.call(TasksRpc.updateProfile, { id: profile.id, patch: { sessionStartDelaySeconds: 7 } });
    await waitFor(() => changes.includes(profile.id), { timeoutMs: 5000, description: 'settings-changed broadcast' });
    assert.equal((await rpc.call(TasksRpc.getProfile, { id: profile.id })).sessionStartDelaySeconds, 7);
  });

  test('each task has its own LAN session key, given only to its target devices', async () => {
    const { pkg } = await readyPackage();
    const a = await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'cache-only', targets: { deviceIds: ['lan-1', 'lan-2'] } });
    const b = await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'cache-only', targets: { deviceIds: ['lan-1'] } });
    const a1 = await rpc.call(TasksRpc.getLanSession, { taskId: a.id, deviceId: 'lan-1' });
    const a2 = await rpc.call(TasksRpc.getLanSession, { taskId: a.id, deviceId: 'lan-2' });
    const b1 = await rpc.call(TasksRpc.getLanSession, { taskId: b.id, deviceId: 'lan-1' });
    assert.equal(Buffer.from(a1.sessionKey, 'base64').length, 32);
    assert.equal(a1.sessionKey, a2.sessionKey, 'one key per task');
    assert.notEqual(a1.sessionKey, b1.sessionKey, 'another task, another key');
    // Without inventory the subnet is unknown, and a device is its own only known peer.
    assert.deepEqual([a1.subnet, a1.subnetDeviceIds], [null, ['lan-1']]);
    await assert.rejects(rpc.call(TasksRpc.getLanSession, { taskId: b.id, deviceId: 'lan-2' }), (e: FleetcastError) => e.code === ErrorCode.DeviceNotFound);
    await assert.rejects(rpc.call(TasksRpc.getLanSession, { taskId: 'no-such-task', deviceId: 'lan-1' }), (e: FleetcastError) => e.code === ErrorCode.TaskNotFound);

    // A device that sends a key of its own gets a ticket to claim the session as itself: its signed
    // ANNOUNCE passes a verifier holding the control plane's keys; under another device's sender ID it does not.
    const deviceKey = generateKeyPairSync('ed25519');
    const claimKey = Buffer.from(rawPublicKeyOf(deviceKey.publicKey)).toString('base64');
    const withTicket = await rpc.callAsDevice(TasksDeviceRpc.getLanSession, 'lan-1', { taskId: a.id, claimKey });
    assert.equal(withTicket.sessionKey, a1.sessionKey);
    const ticket = withTicket.claimTicket!;
    assert.ok(ticket.notAfter > Date.now() / 1000 + 3600, 'a ticket outlasts a download');
    const keys = await rpc.call(TasksRpc.getSigningKeys, {});
    const verify = createClaimVerifier({
      taskId: a.id,
      trustedKey: (keyId) => {
        const found = keys.keys.find((k) => k.keyId === keyId);
        return found === undefined ? undefined : publicKeyFromDer(Buffer.from(found.publicKeyDer, 'base64'));
      },
    });
    const tagger = createPacketTagger(Buffer.from(a1.sessionKey, 'base64'));
    const claimOf = (deviceId: string) => {
      const bytes = encodePacket(
        {
          type: 'claim',
          sessionId: sessionIdOf(a.id),
          senderId: senderIdOf(deviceId),
          weight: 200,
          blocksHeld: 0,
          proof: { keyId: ticket.keyId, devicePublicKey: rawPublicKeyOf(deviceKey.publicKey), notAfter: ticket.notAfter, ticketSignature: Buffer.from(ticket.signature, 'base64') },
        },
        tagger,
        createClaimSigner(deviceKey.privateKey),
      );
      const decoded = decodePacket(bytes, tagger);
      assert.ok(decoded.ok);
      return decoded.value;
    };
    assert.equal(verify(claimOf('lan-1')), null, "the device's own claim holds");
    assert.match(verify(claimOf('lan-2'))?.message ?? '', /not the control plane's/, "lan-1's ticket does not make it lan-2");
    await assert.rejects(
      rpc.callAsDevice(TasksDeviceRpc.getLanSession, 'lan-1', { taskId: a.id, claimKey: 'not a key' }),
      (e: FleetcastError) => e.code === ErrorCode.ContractInvalid && /claimKey/.test(e.message),
    );
  });

  test('a target with an unsupported agent version is failed with AGENT.UNSUPPORTED_VERSION and sent nothing; the others get their assignment', async () => {
    const { pkg } = await readyPackage();
    const subnet = '10.70.1.0/24';
    const reason = 'agent 0.0.9 is outside the supported range >=0.1.0 <1.0.0; upgrade the agent';
    const excluded = { code: ErrorCode.AgentUnsupportedVersion, message: reason };
    // The inventory, standing in: it resolves every target set to one supported and one excluded device.
    const resolved: ResolvedTargetsPage = {
      devices: [
        { deviceId: 'uv-ok', subnet, known: true },
        { deviceId: 'uv-old', subnet, known: true, excluded },
      ],
      next: null,
    };
    const inventory = nc.subscribe(InventoryRpc.resolveTargetsPage.subject, {
      callback: (error, msg) => {
        if (!error) msg.respond(encodeJson({ ok: true, data: resolved } satisfies RpcReply));
      },
    });
    await nc.flush();
    const assignmentsOf = async (taskId: string) =>
      (await readStream(TaskAssignedV2.subject('x').replace(/\.x$/, '.*'), Streams.taskAssignments.name))
        .map((m) => JSON.parse(Buffer.from(m.data).toString()) as TaskAssignedV2)
        .filter((a) => a.assignment.document.taskId === taskId)
        .map((a) => a.assignment.document.deviceId);
    try {
      const task = await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'install', targets: { deviceIds: ['uv-ok', 'uv-old'] } });
      assert.equal(task.status, 'active');
      assert.deepEqual([task.summary.total, task.summary.counts.pending, task.summary.counts.failed], [2, 1, 1]);
      const failed = (await rpc.call(TasksRpc.listTaskDevices, { id: task.id, state: 'failed' })).items;
      assert.deepEqual(
        failed.map((d) => [d.deviceId, d.subnet, d.reason]),
        [['uv-old', subnet, excluded]],
      );
      // Both would leave in one outbox batch: once the supported device's copy is on the stream, the other's would be too.
      await waitFor(async () => (await assignmentsOf(task.id)).includes('uv-ok'), { timeoutMs: 10_000, description: 'the assignment of uv-ok' });
      assert.deepEqual(await assignmentsOf(task.id), ['uv-ok'], 'no assignment for the unsupported agent');
      // The LAN session of the subnet waits only for the devices that got the task.
      assert.deepEqual((await rpc.call(TasksRpc.getLanSession, { taskId: task.id, deviceId: 'uv-ok' })).subnetDeviceIds, ['uv-ok']);

      // Issued later, a scheduled task sends nothing to it either.
      const scheduled = await rpc.call(TasksRpc.createTask, {
        packageId: pkg.id,
        action: 'cache-only',
        targets: { deviceIds: ['uv-ok', 'uv-old'] },
        startAt: new Date(Date.now() + 1000).toISOString(),
      });
      assert.equal(scheduled.status, 'scheduled');
      assert.equal(scheduled.summary.counts.failed, 1);
      await waitFor(async () => (await assignmentsOf(scheduled.id)).includes('uv-ok'), { timeoutMs: 10_000, description: 'the scheduled assignment of uv-ok' });
      assert.deepEqual(await assignmentsOf(scheduled.id), ['uv-ok']);

      // Every target excluded: nothing to send, nothing to wait for.
      resolved.devices = [{ deviceId: 'uv-old', subnet, known: true, excluded }];
      const none = await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'install', targets: { deviceIds: ['uv-old'] } });
      assert.equal(none.status, 'completed');
      assert.deepEqual([none.summary.total, none.summary.counts.failed], [1, 1]);
      assert.deepEqual(await assignmentsOf(none.id), []);
    } finally {
      inventory.unsubscribe();
      await nc.flush();
    }
  });

  test('version 2 reports carry LAN activity into the per-subnet summary; version 1 keeps it', async () => {
    const { pkg } = await readyPackage();
    const task = await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'cache-only', targets: { deviceIds: ['sub-rep', 'sub-rx'] } });
    const js = nc.jetstream();
    const lan = (role: 'representative' | 'receiver', sent: number, repairs: number, invalid: number) => ({
      role,
      sessionStartedAt: role === 'representative' ? '2026-11-22T00:00:00.000Z' : null,
      lanBytesSent: sent,
      repairs,
      invalidPackets: invalid,
    });
    await js.publish(DeviceStatusReportedV2.subject('sub-rep'), encodeJson({ ...report(task.id, 'sub-rep', 1, 'succeeded', 1000), lan: lan('representative', 1200, 7, 0) }));
    const issue = { code: LanIssueCode.SessionIncomplete, message: 'the multicast session closed 2 blocks short' };
    await js.publish(DeviceStatusReportedV2.subject('sub-rx'), encodeJson({ ...report(task.id, 'sub-rx', 1, 'downloading'), lan: { ...lan('receiver', 0, 2, 5), issue } }));
    // Applied first: two reports of one device in one batch apply as the newest alone.
    await waitFor(async () => (await rpc.call(TasksRpc.getTaskSummary, { id: task.id })).subnets[0]?.lan?.invalidPackets === 5, {
      timeoutMs: 10_000,
      description: 'the version 2 reports applied',
    });
    // A later version 1 report of the receiver must not wipe what its version 2 report said.
    await js.publish(DeviceStatusReported.subject('sub-rx'), encodeJson(report(task.id, 'sub-rx', 2, 'succeeded')));
    const summary = await waitFor(async () => {
      const s = await rpc.call(TasksRpc.getTaskSummary, { id: task.id });
      return s.counts.succeeded === 2 ? s : null;
    }, { timeoutMs: 10_000, description: 'both reports applied' });
    assert.deepEqual(summary.subnets[0].lan, {
      representative: 'sub-rep',
      sessionStartedAt: '2026-11-22T00:00:00.000Z',
      lanBytesSent: 1200,
      repairs: 9,
      invalidPackets: 5,
      issues: [{ ...issue, devices: 1 }],
    });
  });

  test('deleting a package: refused while a task is active; then gone, and named in the signed notice of its targets only', async () => {
    const shared = randomBytes(200_000);
    const { pkg: alone } = await readyPackage(randomBytes(300_000));
    const { pkg: twin } = await readyPackage(shared);
    const { pkg: twinToo } = await readyPackage(shared);
    const noticeFor = (deviceId: string) => rpc.callAsDevice(TasksDeviceRpc.getContentDeletions, deviceId, {});
    const complete = async (taskId: string, deviceId: string) => {
      await nc.jetstream().publish(DeviceStatusReported.subject(deviceId), encodeJson(report(taskId, deviceId, 1, 'succeeded', 1)));
      await waitFor(async () => (await rpc.call(TasksRpc.getTask, { id: taskId })).status === 'completed', { timeoutMs: 10_000, description: `task ${taskId} completed` });
    };

    const task = await rpc.call(TasksRpc.createTask, { packageId: alone.id, action: 'cache-only', targets: { deviceIds: ['del-dev-1'] } });
    await assert.rejects(rpc.call(TasksRpc.deletePackage, { id: alone.id }), (e: FleetcastError) => e.code === ErrorCode.PackageInUse && e.message.includes(task.id));
    await complete(task.id, 'del-dev-1');
    const deleted = await rpc.call(TasksRpc.deletePackage, { id: alone.id });
    assert.equal(deleted.releasedContentId, alone.contentId);
    // Deleting again answers the same; the package is gone for reads, lists and new tasks.
    assert.deepEqual(await rpc.call(TasksRpc.deletePackage, { id: alone.id }), deleted);
    await assert.rejects(rpc.call(TasksRpc.getPackage, { id: alone.id }), (e: FleetcastError) => e.code === ErrorCode.PackageNotFound);
    await assert.rejects(rpc.call(TasksRpc.createTask, { packageId: alone.id, action: 'cache-only', targets: { deviceIds: ['del-dev-1'] } }), (e: FleetcastError) => e.code === ErrorCode.PackageNotFound);
    assert.ok(!(await rpc.call(TasksRpc.listPackages, { limit: 1000 })).items.some((p) => p.id === alone.id));
    await assert.rejects(rpc.call(TasksRpc.deletePackage, { id: 'no-such-package' }), (e: FleetcastError) => e.code === ErrorCode.PackageNotFound);

    // Bytes another package still has are not released.
    const twinTask = await rpc.call(TasksRpc.createTask, { packageId: twin.id, action: 'cache-only', targets: { deviceIds: ['del-dev-1'] } });
    await complete(twinTask.id, 'del-dev-1');
    assert.equal((await rpc.call(TasksRpc.deletePackage, { id: twin.id })).releasedContentId, null);

    const notice = await noticeFor('del-dev-1');
    assert.deepEqual(notice.document.contentIds, [alone.contentId]);
    assert.equal(notice.document.deviceId, 'del-dev-1');
    const key = await rpc.call(TasksRpc.getSigningKey, {});
    const signed = { value: notice.document, keyId: notice.keyId, signature: new Uint8Array(Buffer.from(notice.signature, 'base64')) };
    assert.ok(verifyContentDeletionsSignature(signed, publicKeyFromDer(Buffer.from(key.publicKeyDer, 'base64'))), 'signed with the control-plane key');
    // A device that was never sent the content is told nothing about it.
    assert.deepEqual((await noticeFor('del-dev-2')).document.contentIds, []);

    // Once no package has the shared bytes, they are released and named too (newest deletion first).
    assert.equal((await rpc.call(TasksRpc.deletePackage, { id: twinToo.id })).releasedContentId, twin.contentId);
    assert.deepEqual((await noticeFor('del-dev-1')).document.contentIds, [twin.contentId, alone.contentId]);
  });

  test('the migrate command reverts and reapplies the last migration', async () => {
    const run = async (direction: string) => {
      const { code, output } = await runMigrateCommand(join(__dirname, '..', 'src', 'migrate.js'), direction, db.url);
      assert.equal(code, 0, output);
      return output;
    };
    const last = TASKS_MIGRATIONS[TASKS_MIGRATIONS.length - 1]!.name;
    assert.match(await run('down'), /reverted the last migration/);
    assert.match(await run('up'), new RegExp(`applied: ${last}`));
    assert.match(await run('up'), /up to date/);
  });

  test('two instances share requests and the outbox without sending an assignment twice', async () => {
    await startTasks();
    const { pkg } = await readyPackage();
    const devices = Array.from({ length: 400 }, (_, i) => `dup-${i}`);
    const tasks = [];
    for (let i = 0; i < 4; i++) tasks.push(await rpc.call(TasksRpc.createTask, { packageId: pkg.id, action: 'cache-only', targets: { deviceIds: devices } }));
    const ids = new Set(tasks.map((t) => t.id));
    const counted = await waitFor(async () => {
      const msgs = (await readStream(TaskAssignedV2.subject('x').replace('.x', '.*'), Streams.taskAssignments.name))
        .map((m) => JSON.parse(Buffer.from(m.data).toString()) as TaskAssignedV2)
        .filter((a) => ids.has(a.assignment.document.taskId));
      return msgs.length >= 1600 ? msgs : null;
    }, { timeoutMs: 20_000, description: '1,600 assignments' });
    const keys = new Set(counted.map((a) => `${a.assignment.document.taskId}/${a.assignment.document.deviceId}`));
    assert.equal(keys.size, 1600);
    assert.equal(counted.length, 1600, 'no assignment was published twice');
  });
});
