import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AckPolicy, connect, DeliverPolicy, NatsConnection } from 'nats';
import {
  AssignmentDocumentV2,
  AssignmentRejectCode,
  DEFAULT_AGENT_SETTINGS,
  DeviceStatusV1,
  RpcReply,
  Streams,
  TaskAssigned,
  TaskAssignedV2,
  TasksDeviceRpc,
  TasksRpc,
} from '@fleetcast/contracts';
import { generateSigningKey, manifestHash, publicKeyDerOf, signAssignment, signManifest, toWire } from '@fleetcast/content';
import { encodeJson, ensureStreams } from '@fleetcast/nats';
import { createLogger } from '@fleetcast/telemetry';
import { NatsServer, provisionDeviceCreds, startNatsServer, stopAll } from '@fleetcast/testing';
import { AgentDaemon } from '../src/daemon';
import { PINNED_KEYS_FILE } from '../src/adapters/pinned-keys';
import { makeContent, tempDir } from './support/content-fixture';
import { startTestOrigin, TestOrigin } from './support/test-origin';
import { waitFor } from './support/wait-for';

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
let manifestRequests = 0;
const cpKey = generateSigningKey();
const content = makeContent(300 * 1024 + 17);
const signedManifest = signManifest(content.manifest, cpKey);

const markerOf = (name: string) => join(work, `${name}.installed`);
const status = async () => (await fetch(`http://127.0.0.1:${daemon.statusPort}/status`)).json() as Promise<any>;
const metrics = async () => (await fetch(`http://127.0.0.1:${daemon.statusPort}/metrics`)).text();
const rejectedCount = (text: string, code: string) => Number(new RegExp(`fleetcast_agent_assignments_rejected_total\\{[^}]*code="${code}"[^}]*\\} (\\d+)`).exec(text)?.[1] ?? 0);

/** A document for this device whose install command writes `marker` (a Node script: the same on every platform). */
function documentOf(taskId: string, marker: string, overrides: Partial<AssignmentDocumentV2> = {}): AssignmentDocumentV2 {
  return {
    taskId,
    deviceId: DEVICE,
    action: 'install',
    package: {
      contentId: content.manifest.contentId,
      size: content.manifest.size,
      manifestHash: manifestHash(content.manifest),
      installCommand: process.execPath,
      installArgs: ['-e', "require('fs').writeFileSync(process.argv[1], 'ran')", marker],
      successExitCodes: [0],
      timeoutSeconds: 60,
    },
    issuedAt: new Date(Date.now() - 60_000).toISOString(),
    notBefore: new Date(Date.now() - 60_000).toISOString(),
    expiresAt: new Date(Date.now() + 24 * HOUR).toISOString(),
    retiredKeyIds: [],
    ...overrides,
  };
}

function messageOf(doc: AssignmentDocumentV2): TaskAssignedV2 {
  const signed = signAssignment(doc, cpKey);
  return {
    assignment: { document: doc, keyId: signed.keyId, signature: Buffer.from(signed.signature).toString('base64') },
    endorsements: [],
    package: { packageId: 'pkg-1', name: 'signed-tool', version: '1.0.0', platform: 'linux', downloadUrl: origin.url },
    settings: { ...DEFAULT_AGENT_SETTINGS, useMulticast: false, profileId: 'default' },
  };
}

async function publish(message: unknown, subject = TaskAssignedV2.subject(DEVICE)): Promise<void> {
  await nc.jetstream().publish(subject, encodeJson(message));
}

/** Every status report of this device for `taskId` so far, in order. */
async function reportsOf(taskId: string): Promise<DeviceStatusV1[]> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.consumers.add(Streams.deviceStatus.name, { ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, filter_subject: `${Streams.deviceStatus.subjects[0]}`, inactive_threshold: 10e9 });
  const consumer = await nc.jetstream().consumers.get(Streams.deviceStatus.name, info.name);
  const out: DeviceStatusV1[] = [];
  if (info.num_pending > 0) {
    for await (const m of await consumer.fetch({ max_messages: info.num_pending, expires: 5000 })) out.push(JSON.parse(Buffer.from(m.data).toString()));
  }
  await jsm.consumers.delete(Streams.deviceStatus.name, info.name);
  return out.filter((r) => r.taskId === taskId);
}

describe('signed assignments: the real agent over real NATS', () => {
  before(async () => {
    nats = await startNatsServer();
    nc = await connect(nats.adminConnectOptions());
    await ensureStreams(nc, [Streams.taskAssignments, Streams.deviceStatus, Streams.inventoryScans]);
    ({ dir: work, remove: removeWork } = await tempDir('signed-assignment'));
    origin = await startTestOrigin({ data: content.data, etag: `"${content.manifest.contentId}"` });

    // The control plane's side of the agent's queries: the signed manifest, the default settings, download tokens.
    const reply = (data: unknown): Uint8Array => encodeJson({ ok: true, data } satisfies RpcReply);
    for (const subject of [TasksDeviceRpc.getManifest.subject, TasksRpc.getManifest.subject]) {
      nc.subscribe(subject, {
        callback: (_e, m) => {
          manifestRequests++;
          m.respond(reply(toWire(signedManifest)));
        },
      });
    }
    for (const subject of [TasksDeviceRpc.getSettings.subject, TasksRpc.getDeviceSettings.subject]) {
      nc.subscribe(subject, { callback: (_e, m) => m.respond(reply({ ...DEFAULT_AGENT_SETTINGS, profileId: 'default' })) });
    }
    // This origin serves anyone: the control plane issues no download token.
    nc.subscribe(TasksDeviceRpc.getDownloadToken.subject, { callback: (_e, m) => m.respond(reply({ token: null, expiresAt: null })) });
    await nc.flush();

    daemon = new AgentDaemon({
      natsUrl: nats.url,
      natsCredsFile: nats.trust ? await provisionDeviceCreds(nats.trust.dir, DEVICE, join(work, 'creds')) : undefined,
      deviceId: DEVICE,
      stateDir: join(work, 'state'),
      cacheDir: join(work, 'cache'),
      includeLoopback: true,
      scanIntervalSeconds: 3600,
      progressIntervalMs: 200,
      controlPlaneKey: Buffer.from(publicKeyDerOf(cpKey.publicKey)).toString('base64'),
      statusPort: 0,
      logger: createLogger('agent', 'warn'),
    });
    await daemon.start();
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
    assert.equal(manifestRequests, 1);
  });

  test('altered by one byte, expired, or signed for another device: each rejected, counted and reported; nothing downloaded or run', async () => {
    const originRequests = origin.requests.length;
    const manifestsBefore = manifestRequests;

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
    assert.equal(manifestRequests, manifestsBefore, 'not even the manifest was asked for');

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
