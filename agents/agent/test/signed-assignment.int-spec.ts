import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, NatsConnection } from 'nats';
import { AssignmentDocumentV2, AssignmentRejectCode, Streams, TaskAssigned, TaskAssignedV2 } from '@fleetcast/contracts';
import { generateSigningKey, signManifest } from '@fleetcast/content';
import { encodeJson, ensureStreams } from '@fleetcast/nats';
import { NatsServer, startNatsServer, stopAll } from '@fleetcast/testing';
import { AgentDaemon } from '../src/daemon';
import { PINNED_KEYS_FILE } from '../src/adapters/pinned-keys';
import { answerAgentQueries, installDocument, signedAssignment, statusReportsOf } from './support/control-plane-stand-in';
import { makeContent, tempDir } from './support/content-fixture';
import { startTestOrigin, TestOrigin } from './support/test-origin';
import { waitFor } from './support/wait-for';
import { startTestAgent } from './support/test-agent';

/**
 * The agent's real daemon and NATS link against a real NATS server (operator mode, the device with
 * its own credentials). The test plays the control plane: it signs assignments with its key,
 * publishes them into TASK_ASSIGNMENTS and answers the agent's manifest and settings queries.
 * A real signed assignment runs; altered, expired and misaddressed copies are refused before
 * anything is downloaded or run.
 */
const DEVICE = 'signed-dev-1';
const HOUR = 3_600_000;

let nats: NatsServer;
let nc: NatsConnection;
let origin: TestOrigin;
let daemon: AgentDaemon;
let work: string;
let removeWork: () => Promise<void>;
let manifestRequests: () => number;
const cpKey = generateSigningKey();
const content = makeContent(300 * 1024 + 17);
const signedManifest = signManifest(content.manifest, cpKey);

const markerOf = (name: string) => join(work, `${name}.installed`);
const status = async () => (await fetch(`http://127.0.0.1:${daemon.statusPort}/status`)).json() as Promise<any>;
const metrics = async () => (await fetch(`http://127.0.0.1:${daemon.statusPort}/metrics`)).text();
const rejectedCount = (text: string, code: string) => Number(new RegExp(`fleetcast_agent_assignments_rejected_total\\{[^}]*code="${code}"[^}]*\\} (\\d+)`).exec(text)?.[1] ?? 0);

/** A document for this device whose install command writes `marker` (a Node script: the same on every platform). */
function documentOf(taskId: string, marker: string, overrides: Partial<AssignmentDocumentV2> = {}): AssignmentDocumentV2 {
  const command = { installCommand: process.execPath, installArgs: ['-e', "require('fs').writeFileSync(process.argv[1], 'ran')", marker] };
  return { ...installDocument(DEVICE, taskId, content.manifest, command, 24 * HOUR), ...overrides };
}

function messageOf(doc: AssignmentDocumentV2): TaskAssignedV2 {
  return signedAssignment(doc, cpKey, { package: { packageId: 'pkg-1', name: 'signed-tool', version: '1.0.0', platform: 'linux', downloadUrl: origin.url } });
}

async function publish(message: unknown, subject = TaskAssignedV2.subject(DEVICE)): Promise<void> {
  await nc.jetstream().publish(subject, encodeJson(message));
}

const reportsOf = (taskId: string) => statusReportsOf(nc, taskId);

describe('signed assignments: the real agent over real NATS', () => {
  before(async () => {
    nats = await startNatsServer();
    nc = await connect(nats.adminConnectOptions());
    await ensureStreams(nc, [Streams.taskAssignments, Streams.deviceStatus, Streams.inventoryScans]);
    ({ dir: work, remove: removeWork } = await tempDir('signed-assignment'));
    origin = await startTestOrigin({ data: content.data, etag: `"${content.manifest.contentId}"` });

    ({ manifestRequests } = await answerAgentQueries(nc, () => signedManifest));

    daemon = await startTestAgent(nats, { deviceId: DEVICE, work, controlPlaneKey: cpKey.publicKey });
  });

  after(async () => {
    await daemon?.stop();
    await nc?.close();
    await origin?.close();
    await stopAll();
    await removeWork?.();
  });

  test('the --control-plane-key option seeds the pinned key set in the state dir', async () => {
    const pinned = JSON.parse(await readFile(join(work, 'state', PINNED_KEYS_FILE), 'utf8'));
    assert.deepEqual(pinned.keys.map((k: { keyId: string }) => k.keyId), [cpKey.keyId]);
    assert.deepEqual((await status()).controlPlaneKeys.pinned, [cpKey.keyId]);
  });

  test('a signed assignment is accepted: downloaded, verified and installed with the signed command', async () => {
    await publish(messageOf(documentOf('task-valid', markerOf('valid'))));
    const task = await waitFor(async () => (await status()).tasks.find((t: { taskId: string; state: string }) => t.taskId === 'task-valid' && t.state === 'succeeded'), 'the valid task succeeded', 30_000, 50);
    assert.equal(task.bytes.origin, content.data.length);
    assert.equal(await readFile(markerOf('valid'), 'utf8'), 'ran');
    assert.equal(manifestRequests(), 1);
  });

  test('altered by one byte, expired, or signed for another device: each rejected, counted and reported; nothing downloaded or run', async () => {
    const originRequests = origin.requests.length;
    const manifestsBefore = manifestRequests();

    const altered = messageOf(documentOf('task-altered', markerOf('altered')));
    // One byte of the signed arguments (the marker path's last character) changed after signing.
    const args = altered.assignment.document.package.installArgs;
    args[2] = args[2]!.slice(0, -1) + 'X';
    const expired = messageOf(documentOf('task-expired', markerOf('expired'), { notBefore: new Date(Date.now() - 48 * HOUR).toISOString(), expiresAt: new Date(Date.now() - HOUR).toISOString() }));
    const elsewhere = messageOf(documentOf('task-elsewhere', markerOf('elsewhere'), { deviceId: 'another-device' }));
    const unsigned = { taskId: 'task-unsigned', deviceId: DEVICE, action: 'install' };
    const cases = [
      { taskId: 'task-altered', marker: markerOf('altered'), code: AssignmentRejectCode.BadSignature, message: altered },
      { taskId: 'task-expired', marker: markerOf('expired'), code: AssignmentRejectCode.Expired, message: expired },
      { taskId: 'task-elsewhere', marker: markerOf('elsewhere'), code: AssignmentRejectCode.WrongDevice, message: elsewhere },
      { taskId: 'task-unsigned', marker: null, code: AssignmentRejectCode.Unsigned, message: unsigned, subject: TaskAssigned.subject(DEVICE) },
    ];
    for (const c of cases) await publish(c.message, c.subject);

    for (const c of cases) {
      // Reported to the control plane as a failure with the reason code, so the task's device list shows it.
      const [report] = await waitFor(async () => {
        const reports = await reportsOf(c.taskId);
        return reports.length > 0 ? reports : null;
      }, `the rejection of ${c.taskId} reported`, 15_000, 100);
      assert.equal(report!.state, 'failed');
      assert.equal(report!.deviceId, DEVICE);
      assert.equal(report!.reason?.code, c.code, report!.reason?.message);
    }
    const text = await metrics();
    for (const c of cases) assert.equal(rejectedCount(text, c.code), 1, `${c.code} counted once`);

    const s = await status();
    for (const c of cases) {
      assert.equal(s.tasks.some((t: { taskId: string }) => t.taskId === c.taskId), false, `${c.taskId} never became a task`);
      if (c.marker) assert.equal(existsSync(c.marker), false, `${c.taskId} ran nothing`);
      assert.ok(s.rejectedAssignments.recent.some((r: { taskId: string; code: string }) => r.taskId === c.taskId && r.code === c.code), `${c.taskId} listed in /status`);
    }
    assert.equal(origin.requests.length, originRequests, 'nothing was downloaded');
    assert.equal(manifestRequests(), manifestsBefore, 'not even the manifest was asked for');

    // The same altered copy again: counted again, reported no second time.
    await publish(altered);
    await waitFor(async () => rejectedCount(await metrics(), AssignmentRejectCode.BadSignature) === 2, 'the repeat counted', 10_000, 50);
    assert.equal((await reportsOf('task-altered')).length, 1);

    // What a person on the device sees without the daemon's endpoint.
    const cli = spawnSync(process.execPath, [join(__dirname, '..', 'src', 'cli.js'), 'status', '--state-dir', join(work, 'state')], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`control-plane keys pinned: ${cpKey.keyId}`));
    assert.match(cli.stdout, /assignments rejected: 4 .*ASSIGNMENT\.BAD_SIGNATURE 1/);
    assert.match(cli.stdout, /task-expired {2}ASSIGNMENT\.EXPIRED: expired at/);
  });
});
