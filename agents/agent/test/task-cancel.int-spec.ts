import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, NatsConnection } from 'nats';
import { AssignmentDocumentV2, Streams, TaskAssignedV2, TaskCancel, TaskCancelV1 } from '@fleetcast/contracts';
import { generateSigningKey, signCancellation, signManifest, SigningKeyPair } from '@fleetcast/content';
import { encodeJson, ensureStreams } from '@fleetcast/nats';
import { NatsServer, startNatsServer, stopAll } from '@fleetcast/testing';
import { AgentDaemon } from '../src/daemon';
import { answerAgentQueries, installDocument, signedAssignment, statusReportsOf } from './support/control-plane-stand-in';
import { makeContent, tempDir } from './support/content-fixture';
import { startTestOrigin, TestOrigin } from './support/test-origin';
import { waitFor } from './support/wait-for';
import { startTestAgent } from './support/test-agent';

/**
 * Cancellation on the real agent over real NATS (operator mode, the device with its own
 * credentials): the test plays the control plane. A download stalled part-way is stopped by a
 * signed cancellation and its partial file removed; forged, misaddressed and unsigned ones change
 * nothing; a retry (a signed higher attempt) runs a failed task again.
 */
const DEVICE = 'cancel-dev-1';
const BLOCK = 64 * 1024;

let nats: NatsServer;
let nc: NatsConnection;
let origin: TestOrigin;
let daemon: AgentDaemon;
let work: string;
let removeWork: () => Promise<void>;
const cpKey = generateSigningKey();
const forgerKey = generateSigningKey();
const content = makeContent(40 * BLOCK + 123, BLOCK);
const signedManifest = signManifest(content.manifest, cpKey);
/** Which requests of the origin stall: those of the download to be cancelled. */
let stall = true;

const status = async () => (await fetch(`http://127.0.0.1:${daemon.statusPort}/status`)).json() as Promise<any>;
const taskState = async (taskId: string) => (await status()).tasks.find((t: { taskId: string }) => t.taskId === taskId);
const partialFiles = async () => (await readdir(join(work, 'cache', 'partial'))).filter((f) => f.startsWith(content.manifest.contentId));

function documentOf(taskId: string, over: Partial<AssignmentDocumentV2> = {}): AssignmentDocumentV2 {
  const command = { installCommand: process.execPath, installArgs: ['-e', "require('fs').writeFileSync(process.argv[1], 'ran')", join(work, `${taskId}.installed`)] };
  return { ...installDocument(DEVICE, taskId, content.manifest, command, 24 * 3_600_000), ...over };
}

const assign = (doc: AssignmentDocumentV2) =>
  nc.jetstream().publish(TaskAssignedV2.subject(DEVICE), encodeJson(signedAssignment(doc, cpKey, { package: { packageId: 'pkg-1', name: 'tool', version: '1.0.0', platform: 'linux', downloadUrl: origin.url } })));

function cancellation(taskId: string, key: SigningKeyPair, deviceId = DEVICE): TaskCancelV1 {
  const doc = { taskId, deviceId, issuedAt: new Date().toISOString(), retiredKeyIds: [] };
  const signed = signCancellation(doc, key);
  return { cancellation: { document: doc, keyId: signed.keyId, signature: Buffer.from(signed.signature).toString('base64') }, endorsements: [] };
}

/** How many cancellations the agent counted with this code (`accepted`, or the reason it ignored one). */
const cancellationCount = (text: string, code: string) => Number(new RegExp(`fleetcast_agent_cancellations_total\\{[^}]*code="${code}"[^}]*\\} (\\d+)`).exec(text)?.[1] ?? 0);

const publishCancel = (message: unknown) => nc.jetstream().publish(TaskCancel.subject(DEVICE), encodeJson(message));

describe('task cancellation: the real agent over real NATS', () => {
  before(async () => {
    nats = await startNatsServer();
    nc = await connect(nats.adminConnectOptions());
    await ensureStreams(nc, [Streams.taskAssignments, Streams.deviceStatus, Streams.inventoryScans]);
    ({ dir: work, remove: removeWork } = await tempDir('task-cancel'));
    origin = await startTestOrigin({ data: content.data, etag: `"${content.manifest.contentId}"`, behave: () => (stall ? { kind: 'stall', afterBytes: 5 * BLOCK + 100 } : { kind: 'ok' }) });
    await answerAgentQueries(nc, () => signedManifest);
    daemon = await startTestAgent(nats, { deviceId: DEVICE, work, controlPlaneKey: cpKey.publicKey, progressIntervalMs: 100 });
  });

  after(async () => {
    await daemon?.stop();
    await nc?.close();
    await origin?.close();
    await stopAll();
    await removeWork?.();
  });

  test('forged cancellations change nothing; a signed one stops the download, removes the partial file and is reported', async () => {
    stall = true;
    await assign(documentOf('task-cancel'));
    // Part of the content arrived, then the origin stalls: the download is under way, its partial file on disk.
    await waitFor(async () => (await taskState('task-cancel'))?.state === 'downloading' && (await partialFiles()).length > 0, 'the download under way', 15_000, 50);

    const misaddressed = cancellation('task-cancel', cpKey, 'another-device');
    const tampered = cancellation('other-task', cpKey);
    tampered.cancellation.document.taskId = 'task-cancel';
    for (const forged of [cancellation('task-cancel', forgerKey), tampered, misaddressed, { taskId: 'task-cancel', deviceId: DEVICE }]) await publishCancel(forged);
    const metrics = async () => (await fetch(`http://127.0.0.1:${daemon.statusPort}/metrics`)).text();
    await waitFor(async () => cancellationCount(await metrics(), 'CANCEL.MALFORMED') === 1, 'the forgeries seen', 10_000, 50);
    const text = await metrics();
    for (const code of ['CANCEL.UNKNOWN_KEY', 'CANCEL.BAD_SIGNATURE', 'CANCEL.WRONG_DEVICE']) assert.equal(cancellationCount(text, code), 1, code);
    assert.equal(cancellationCount(text, 'accepted'), 0);
    assert.equal((await taskState('task-cancel')).state, 'downloading', 'still downloading after the forgeries');
    assert.ok((await partialFiles()).length > 0, 'the partial file still there');
    assert.ok(!(await statusReportsOf(nc, 'task-cancel')).some((r) => r.state === 'cancelled'), 'nothing reported for a forgery');

    await publishCancel(cancellation('task-cancel', cpKey));
    const task = await waitFor(async () => {
      const t = await taskState('task-cancel');
      return t?.state === 'cancelled' ? t : null;
    }, 'the task cancelled', 10_000, 50);
    assert.equal(task.reason.code, 'TASK.CANCELLED');
    await waitFor(async () => (await partialFiles()).length === 0, 'the partial file removed', 10_000, 50);
    assert.ok(!existsSync(join(work, 'cache', 'content', content.manifest.contentId)), 'nothing completed into the cache');
    const reports = await waitFor(async () => {
      const r = await statusReportsOf(nc, 'task-cancel');
      return r.some((x) => x.state === 'cancelled') ? r : null;
    }, 'the cancellation reported', 10_000, 100);
    const last = reports.at(-1)!;
    assert.deepEqual([last.state, last.reason?.code], ['cancelled', 'TASK.CANCELLED']);
    assert.ok(last.bytes.origin > 0, 'with the bytes received before');
    assert.ok(!existsSync(join(work, 'task-cancel.installed')), 'nothing installed');
  });

  test('a cancellation of a task whose assignment comes later: the assignment is not started', async () => {
    await publishCancel(cancellation('task-late', cpKey));
    await waitFor(async () => cancellationCount(await (await fetch(`http://127.0.0.1:${daemon.statusPort}/metrics`)).text(), 'accepted') === 2, 'the cancellation seen', 10_000, 50);
    stall = false;
    await assign(documentOf('task-late'));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(await taskState('task-late'), undefined, 'not started');
  });

  test('a retry: a higher signed attempt runs a failed task again to success', async () => {
    stall = false;
    // Attempt 1 names a manifest hash that is not the content's: the agent refuses the manifest and fails the task.
    await assign(documentOf('task-retry', { package: { ...documentOf('task-retry').package, manifestHash: 'e'.repeat(64) } }));
    await waitFor(async () => (await taskState('task-retry'))?.state === 'failed', 'attempt 1 failed', 15_000, 50);
    await assign({ ...documentOf('task-retry'), attempt: 2 });
    const done = await waitFor(async () => {
      const t = await taskState('task-retry');
      return t?.state === 'succeeded' ? t : null;
    }, 'attempt 2 succeeded', 20_000, 50);
    assert.equal(done.reason, null);
    assert.ok(existsSync(join(work, 'task-retry.installed')));
  });
});
