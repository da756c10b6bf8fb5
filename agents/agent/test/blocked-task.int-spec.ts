import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, NatsConnection } from 'nats';
import { Streams, TaskAssignedV2 } from '@fleetcast/contracts';
import { generateSigningKey, signManifest } from '@fleetcast/content';
import { encodeJson, ensureStreams } from '@fleetcast/nats';
import { NatsServer, startNatsServer, stopAll } from '@fleetcast/testing';
import { AgentDaemon } from '../src/daemon';
import { AgentErrorCode } from '../src/core/agent-errors';
import { answerAgentQueries, installDocument, signedAssignment, statusReportsOf } from './support/control-plane-stand-in';
import { makeContent, tempDir } from './support/content-fixture';
import { startTestOrigin, TestOrigin } from './support/test-origin';
import { waitFor } from './support/wait-for';
import { startTestAgent } from './support/test-agent';

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
let manifestRequests: () => number;
const cpKey = generateSigningKey();
const content = makeContent(20 * MiB);
const signedManifest = signManifest(content.manifest, cpKey);

function assignment(taskId: string): TaskAssignedV2 {
  const doc = installDocument(DEVICE, taskId, content.manifest, { installCommand: process.execPath, installArgs: ['-e', ''] });
  return signedAssignment(doc, cpKey, {
    package: { packageId: 'pkg-big', name: 'too-big', version: '1.0.0', platform: 'linux', downloadUrl: origin.url },
    // The profile's cache limit: half the package.
    settings: { cacheSizeLimitBytes: 10 * MiB, profileId: 'small-cache' },
  });
}

const reportsOf = (taskId: string) => statusReportsOf(nc, taskId);

describe('a blocked task: reported at once, failed after the configured time (real agent, real NATS)', () => {
  before(async () => {
    nats = await startNatsServer();
    nc = await connect(nats.adminConnectOptions());
    await ensureStreams(nc, [Streams.taskAssignments, Streams.deviceStatus, Streams.inventoryScans]);
    ({ dir: work, remove: removeWork } = await tempDir('blocked-task'));
    origin = await startTestOrigin({ data: content.data, etag: `"${content.manifest.contentId}"` });
    ({ manifestRequests } = await answerAgentQueries(nc, () => signedManifest));
    daemon = await startTestAgent(nats, {
      deviceId: DEVICE,
      work,
      controlPlaneKey: cpKey.publicKey,
      logLevel: 'silent',
      // What `--blocked-fail-after-seconds 4` sets; retries a little faster than the default 10 s.
      lifecycle: { blockedFailAfterMs: BLOCKED_FAIL_AFTER_MS, retry: { baseDelayMs: 500, maxDelayMs: 1000 } },
    });
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
    assert.ok(manifestRequests() >= 2 && manifestRequests() <= 12, `tried again a bounded number of times (${manifestRequests()} manifest requests)`);
    assert.equal(origin.requests.length, 0, 'nothing was downloaded');

    const status = (await (await fetch(`http://127.0.0.1:${daemon.statusPort}/status`)).json()) as { tasks: Array<{ taskId: string; state: string; reason: { code: string } | null }> };
    const task = status.tasks.find((t) => t.taskId === 'task-too-big');
    assert.equal(task?.state, 'failed');
    assert.equal(task?.reason?.code, AgentErrorCode.CacheNoSpace);
  });
});
