import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AckPolicy, connect, DeliverPolicy, NatsConnection } from 'nats';
import { AssignmentDocumentV2, DEFAULT_AGENT_SETTINGS, DeviceStatusV1, RpcReply, Streams, TaskAssignedV2, TasksDeviceRpc, TasksRpc } from '@fleetcast/contracts';
import { generateSigningKey, manifestHash, publicKeyDerOf, signAssignment, signManifest, toWire } from '@fleetcast/content';
import { encodeJson, ensureStreams } from '@fleetcast/nats';
import { createLogger } from '@fleetcast/telemetry';
import { NatsServer, provisionDeviceCreds, startNatsServer, stopAll } from '@fleetcast/testing';
import { AgentDaemon } from '../src/daemon';
import { AgentErrorCode } from '../src/core/agent-errors';
import { makeContent, tempDir } from './support/content-fixture';
import { startTestOrigin, TestOrigin } from './support/test-origin';
import { waitFor } from './support/wait-for';

/**
 * A device that cannot proceed says why, within seconds, and fails after its configured time: the
 * real daemon over real NATS, a 20 MiB package and a profile whose cache limit is 10 MiB. The test
 * plays the control plane (signed assignment, manifest, settings) and reads the device's reports
 * from TASK_STATUS, the stream the tasks service ingests into the task's device list.
 */
const DEVICE = 'blocked-dev-1';
const MiB = 1024 * 1024;
/** Short for a test; the agent's default is 600 s (`--blocked-fail-after-seconds`). */
const BLOCKED_FAIL_AFTER_MS = 4000;

let nats: NatsServer;
let nc: NatsConnection;
let origin: TestOrigin;
let daemon: AgentDaemon;
let work: string;
let removeWork: () => Promise<void>;
let manifestRequests = 0;
const cpKey = generateSigningKey();
const content = makeContent(20 * MiB);
const signedManifest = signManifest(content.manifest, cpKey);

function assignment(taskId: string): TaskAssignedV2 {
  const doc: AssignmentDocumentV2 = {
    taskId,
    deviceId: DEVICE,
    action: 'install',
    package: {
      contentId: content.manifest.contentId,
      size: content.manifest.size,
      manifestHash: manifestHash(content.manifest),
      installCommand: process.execPath,
      installArgs: ['-e', ''],
      successExitCodes: [0],
      timeoutSeconds: 60,
    },
    issuedAt: new Date(Date.now() - 60_000).toISOString(),
    notBefore: new Date(Date.now() - 60_000).toISOString(),
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    retiredKeyIds: [],
  };
  const signed = signAssignment(doc, cpKey);
  return {
    assignment: { document: doc, keyId: signed.keyId, signature: Buffer.from(signed.signature).toString('base64') },
    endorsements: [],
    package: { packageId: 'pkg-big', name: 'too-big', version: '1.0.0', platform: 'linux', downloadUrl: origin.url },
    // The profile's cache limit: half the package.
    settings: { ...DEFAULT_AGENT_SETTINGS, useMulticast: false, cacheSizeLimitBytes: 10 * MiB, profileId: 'small-cache' },
  };
}

/** The device's reports of a task so far, in order, with the time the stream stored each. */
async function reportsOf(taskId: string): Promise<Array<DeviceStatusV1 & { storedAtMs: number }>> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.consumers.add(Streams.deviceStatus.name, { ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 10e9 });
  const consumer = await nc.jetstream().consumers.get(Streams.deviceStatus.name, info.name);
  const out: Array<DeviceStatusV1 & { storedAtMs: number }> = [];
  if (info.num_pending > 0) {
    for await (const m of await consumer.fetch({ max_messages: info.num_pending, expires: 5000 })) out.push({ ...JSON.parse(Buffer.from(m.data).toString()), storedAtMs: m.info.timestampNanos / 1e6 });
  }
  await jsm.consumers.delete(Streams.deviceStatus.name, info.name);
  return out.filter((r) => r.taskId === taskId);
}

describe('a blocked task: reported at once, failed after the configured time (real agent, real NATS)', () => {
  before(async () => {
    nats = await startNatsServer();
    nc = await connect(nats.adminConnectOptions());
    await ensureStreams(nc, [Streams.taskAssignments, Streams.deviceStatus, Streams.inventoryScans]);
    ({ dir: work, remove: removeWork } = await tempDir('blocked-task'));
    origin = await startTestOrigin({ data: content.data, etag: `"${content.manifest.contentId}"` });
    const reply = (data: unknown): Uint8Array => encodeJson({ ok: true, data } satisfies RpcReply);
    for (const subject of [TasksDeviceRpc.getManifest.subject, TasksRpc.getManifest.subject]) {
      nc.subscribe(subject, {
        callback: (_e, m) => {
          manifestRequests++;
          m.respond(reply(toWire(signedManifest)));
        },
      });
    }
    // The test origin serves anyone: no download token is issued.
    nc.subscribe(TasksDeviceRpc.getDownloadToken.subject, { callback: (_e, m) => m.respond(reply({ token: null, expiresAt: null })) });
    for (const subject of [TasksDeviceRpc.getSettings.subject, TasksRpc.getDeviceSettings.subject]) {
      nc.subscribe(subject, { callback: (_e, m) => m.respond(reply({ ...DEFAULT_AGENT_SETTINGS, profileId: 'default' })) });
    }
    await nc.flush();
    daemon = new AgentDaemon({
      natsUrl: nats.url,
      natsCredsFile: await provisionDeviceCreds(nats.trust!.dir, DEVICE, join(work, 'creds')),
      deviceId: DEVICE,
      stateDir: join(work, 'state'),
      cacheDir: join(work, 'cache'),
      includeLoopback: true,
      scanIntervalSeconds: 3600,
      progressIntervalMs: 200,
      controlPlaneKey: Buffer.from(publicKeyDerOf(cpKey.publicKey)).toString('base64'),
      // What `--blocked-fail-after-seconds 4` sets; retries a little faster than the default 10 s.
      lifecycle: { blockedFailAfterMs: BLOCKED_FAIL_AFTER_MS, retry: { baseDelayMs: 500, maxDelayMs: 1000 } },
      statusPort: 0,
      logger: createLogger('agent', 'silent'),
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

  test('a 20 MiB package with a 10 MiB cache limit: queued with CACHE.NO_SPACE within seconds, then failed with it', async () => {
    const published = Date.now();
    await nc.jetstream().publish(TaskAssignedV2.subject(DEVICE), encodeJson(assignment('task-too-big')));

    const blocked = await waitFor(async () => (await reportsOf('task-too-big')).find((r) => r.reason?.code === AgentErrorCode.CacheNoSpace), 'a report with CACHE.NO_SPACE', 5000, 50);
    assert.equal(blocked.state, 'queued', 'still queued: the device has not given up yet');
    assert.ok(blocked.storedAtMs - published < 3000, `reported ${Math.round(blocked.storedAtMs - published)} ms after the assignment`);
    assert.match(blocked.reason!.message, /cannot make room for 20971520 bytes/);
    assert.match(blocked.reason!.message, /then the task fails/);

    const failed = await waitFor(async () => (await reportsOf('task-too-big')).find((r) => r.state === 'failed'), 'the failed report', BLOCKED_FAIL_AFTER_MS + 10_000, 100);
    assert.equal(failed.reason?.code, AgentErrorCode.CacheNoSpace);
    assert.match(failed.reason!.message, /still so after \d+ s/);
    const blockedFor = failed.storedAtMs - blocked.storedAtMs;
    assert.ok(blockedFor >= BLOCKED_FAIL_AFTER_MS - 100 && blockedFor < BLOCKED_FAIL_AFTER_MS + 3000, `failed ${Math.round(blockedFor)} ms after the first CACHE.NO_SPACE report`);

    const reports = await reportsOf('task-too-big');
    // queued (assigned), queued with the reason, failed: the retries in between said nothing new.
    assert.deepEqual(reports.map((r) => `${r.state}:${r.reason?.code ?? '-'}`), ['queued:-', `queued:${AgentErrorCode.CacheNoSpace}`, `failed:${AgentErrorCode.CacheNoSpace}`]);
    assert.ok(manifestRequests >= 2 && manifestRequests <= 12, `tried again a bounded number of times (${manifestRequests} manifest requests)`);
    assert.equal(origin.requests.length, 0, 'nothing was downloaded');

    const status = (await (await fetch(`http://127.0.0.1:${daemon.statusPort}/status`)).json()) as { tasks: Array<{ taskId: string; state: string; reason: { code: string } | null }> };
    const task = status.tasks.find((t) => t.taskId === 'task-too-big');
    assert.equal(task?.state, 'failed');
    assert.equal(task?.reason?.code, AgentErrorCode.CacheNoSpace);
  });
});
