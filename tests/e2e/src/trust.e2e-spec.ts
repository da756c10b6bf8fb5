import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, ConnectionOptions, credsAuthenticator, jwtAuthenticator, NatsConnection, Subscription } from 'nats';
import {
  DeviceStatusReported,
  deviceInboxPrefix,
  InventoryScanSubmitted,
  TaskAssigned,
  TasksDeviceRpc,
  TasksRpc,
} from '@fleetcast/contracts';
import {
  ApiClient,
  ControlPlane,
  createTestDatabase,
  NatsServer,
  NodeProcess,
  provisionDeviceCreds,
  startAgentProcess,
  startControlPlane,
  startNatsServer,
  stopAll,
  TestDatabase,
  waitFor,
} from '@fleetcast/testing';
import { CLAIMS_UPDATE_SUBJECT, decodeClaims } from '@fleetcast/trust';

/**
 * The fleet's trust chain against a real nats-server in operator mode: who may connect, what one
 * device's credentials can and cannot reach, and how retiring a device cuts it off.
 */
const TOKEN = `e2e-${randomBytes(8).toString('hex')}`;
/** How long a refused publish, subscription or request may take to show its permissions error. */
const VIOLATION_TIMEOUT_MS = 5_000;
/** How often the licensing service pushes the fleet account without changes, here. */
const REFRESH_MS = 1_000;

let nats: NatsServer;
let db: TestDatabase;
let work: string;
let cp: ControlPlane;
let api: ApiClient;
const open: NatsConnection[] = [];

async function connectAs(options: Pick<ConnectionOptions, 'servers' | 'authenticator' | 'inboxPrefix'>): Promise<NatsConnection> {
  const nc = await connect({ ...options, reconnect: false, timeout: 3_000 });
  open.push(nc);
  return nc;
}

/** Reads a subscription to its end: a refused one ends with the server's permissions error. */
async function drain(sub: Subscription): Promise<void> {
  for await (const _ of sub) {
    // Nothing is expected to arrive.
  }
}

/**
 * Waits for the server to log that it refused this subject (nats-server names the user's key and the
 * subject of every publish or subscription it refuses); the client hears only a bare
 * PERMISSIONS_VIOLATION, without the subject.
 */
function violationOn(_nc: NatsConnection, subject: string): Promise<string> {
  const logged = () => nats.logs().split('\n').find((line) => /Violation/i.test(line) && line.includes(`"${subject}"`));
  return waitFor(() => logged(), { timeoutMs: VIOLATION_TIMEOUT_MS, intervalMs: 50, description: `the server to refuse ${subject}` });
}

describe('trust chain: NATS credentials and permissions', () => {
  before(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase('e2e_trust');
    work = await mkdtemp(join(tmpdir(), 'fleetcast-e2e-trust-'));
    cp = await startControlPlane({ natsUrl: nats.url, trustDir: nats.trust?.dir, databaseUrl: db.url, workDir: join(work, 'control-plane'),
      apiToken: TOKEN,
      logLevel: 'info',
      // A second between unchanged pushes, so that the test below sees two in a blink (a minute by default).
      env: { licensing: { REVOCATION_REFRESH_MS: String(REFRESH_MS) } },
    });
    api = new ApiClient(cp.gatewayUrl, TOKEN);
  });

  after(async () => {
    await Promise.allSettled(open.map((nc) => nc.close()));
    await stopAll();
    await db?.drop();
    if (work && !process.env.FLEETCAST_KEEP_TEST_FILES) await rm(work, { recursive: true, force: true });
  });

  test('a client without credentials is refused', async () => {
    await assert.rejects(connect({ servers: nats.url, reconnect: false, timeout: 3_000 }), /AUTHORIZATION_VIOLATION|Authorization Violation/i);
  });

  test("one device's credentials reach none of another device's subjects, nor the services' commands", async () => {
    const credsA = await provisionDeviceCreds(nats.trust!.dir, 'dev-a', join(work, 'creds'));
    const a = await connectAs({ servers: nats.url, authenticator: credsAuthenticator(await readFile(credsA)), inboxPrefix: deviceInboxPrefix('dev-a') });

    // What it may do: publish its own scan (JetStream acknowledges it).
    const ack = await a.jetstream().publish(InventoryScanSubmitted.subject('dev-a'), new TextEncoder().encode('{}'));
    assert.ok(ack.seq > 0, 'its own subject is open to it');

    // Subscribing to another device's assignments.
    const assignmentsOfB = TaskAssigned.subject('dev-b');
    const sub = a.subscribe(assignmentsOfB);
    await assert.rejects(drain(sub), /permissions violation/i);

    // Publishing another device's status and scan.
    for (const subject of [DeviceStatusReported.subject('dev-b'), InventoryScanSubmitted.subject('dev-b')]) {
      const refused = violationOn(a, subject);
      a.publish(subject, new TextEncoder().encode('{}'));
      assert.match(await refused, /Publish Violation/i);
    }

    // Asking for another device's LAN key: the request never leaves (and a forged inbox is refused too).
    const lanOfB = TasksDeviceRpc.getLanSession.subjectFor('dev-b');
    const refusedLan = violationOn(a, lanOfB);
    await assert.rejects(a.request(lanOfB, new TextEncoder().encode('{"taskId":"t1"}'), { timeout: 1_000 }));
    await refusedLan;

    // Calling the tasks service's commands directly (creating a package, a task).
    for (const subject of [TasksRpc.createPackage.subject, TasksRpc.createTask.subject]) {
      const refused = violationOn(a, subject);
      await assert.rejects(a.request(subject, new TextEncoder().encode('{}'), { timeout: 1_000 }));
      await refused;
    }

    // Publishing an assignment to any device: what would make a device run something.
    const forged = TaskAssigned.subject('dev-b');
    const refusedAssign = violationOn(a, forged);
    a.publish(forged, new TextEncoder().encode('{}'));
    await refusedAssign;

    // Reading another device's replies (the LAN key travels in one).
    const replies = a.subscribe(`${deviceInboxPrefix('dev-b')}.>`);
    await assert.rejects(drain(replies), /permissions violation/i);

    // Its own device-scoped query still works: the tasks service answers (with an error: no such task).
    const answer = await a.request(TasksDeviceRpc.getLanSession.subjectFor('dev-a'), new TextEncoder().encode(JSON.stringify({ taskId: 'no-such-task' })), { timeout: 5_000 });
    assert.match(new TextDecoder().decode(answer.data), /TASKS\.TASK_NOT_FOUND/);
    // No download token for content of no task of its own: the origin would refuse it the bytes.
    const tokenAnswer = await a.request(TasksDeviceRpc.getDownloadToken.subjectFor('dev-a'), new TextEncoder().encode(JSON.stringify({ contentId: 'f'.repeat(64) })), { timeout: 5_000 });
    assert.match(new TextDecoder().decode(tokenAnswer.data), /DEVICE_NOT_FOUND.*not a target of any task/);
    assert.equal((await fetch(`${cp.originUrl}/v1/content/${'f'.repeat(64)}`)).status, 401, 'the origin serves no download without a token');
  });

  test('a device enrolled with a token is refused within 5 s of its retirement, and its seat is free', async () => {
    const token = await api.ok<{ token: string; id: string }>('POST', '/v1/enrollment-tokens', { name: 'retirement test', maxUses: 1 });
    const dir = join(work, 'agents', 'dev-retired');
    const agent: NodeProcess = await startAgentProcess({
      natsUrl: nats.url,
      deviceId: 'dev-retired',
      dir,
      args: ['--no-multicast', '--server', cp.gatewayUrl, '--enroll-token', token.token],
    });
    await agent.waitForOutput(/agent ready/, { timeoutMs: 30_000 });
    // The token had one use: a second device is refused with it.
    const second = await fetch(`${cp.gatewayUrl}/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: token.token, deviceId: 'dev-second', publicKey: `U${'B'.repeat(55)}`, hostname: 'h', platform: 'linux', agentVersion: '0.1.0' }),
    });
    assert.equal(second.status, 401);
    assert.match(((await second.json()) as { message: string }).message, /used up \(1 of 1 uses\)/);
    const seatsBefore = await api.ok<{ items: Array<{ deviceId: string }> }>('GET', '/v1/seats');
    assert.ok(seatsBefore.items.some((s) => s.deviceId === 'dev-retired'), 'the enrolled device holds a seat');
    await waitFor(async () => (await api.request('GET', '/v1/devices/dev-retired')).status === 200, { timeoutMs: 20_000, description: 'the enrolled agent to be in the inventory' });

    // Its own credentials, as the agent keeps them: they work before the retirement.
    const enrollment = JSON.parse(await readFile(join(dir, 'state', 'enrollment.json'), 'utf8')) as { userJwt: string };
    const seed = (await readFile(join(dir, 'state', 'nats-user.seed'), 'utf8')).trim();
    const asDevice = () => ({ servers: nats.url, authenticator: jwtAuthenticator(enrollment.userJwt, new TextEncoder().encode(seed)), inboxPrefix: deviceInboxPrefix('dev-retired') });
    const before = await connectAs(asDevice());
    const closed = before.closed();

    const retiredAt = Date.now();
    const retired = await api.ok<{ state: string }>('POST', '/v1/devices/dev-retired/retire');
    assert.equal(retired.state, 'retired');
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the connection was not closed within 5 s')), 5_000))]);
    const cutOffMs = Date.now() - retiredAt;
    assert.ok(cutOffMs < 5_000, `connection closed ${cutOffMs} ms after the retirement`);
    console.log(`retired device's connection closed ${cutOffMs} ms after the API call`);
    await assert.rejects(connectAs(asDevice()), /AUTHORIZATION_VIOLATION|Authorization Violation/i, 'the retired credentials are refused');
    await agent.waitForOutput(/Authorization Violation|AUTHORIZATION_VIOLATION/i, { timeoutMs: 5_000 });

    const seatsAfter = await api.ok<{ items: Array<{ deviceId: string }> }>('GET', '/v1/seats');
    assert.ok(!seatsAfter.items.some((s) => s.deviceId === 'dev-retired'), 'the seat is released');
    const enrolled = await api.ok<{ state: string; retiredAt: string | null }>('GET', '/v1/enrolled-devices/dev-retired');
    assert.equal(enrolled.state, 'retired');
    await agent.stop();
  });

  test('the fleet account and its revocations are pushed again without changes, for servers cut off at the time', async () => {
    const system = await connectAs(nats.trust!.connectOptions('system'));
    const pushes = system.subscribe(CLAIMS_UPDATE_SUBJECT, { max: 2 });
    const seen: { sub: string; iat: number; revocations: Record<string, number> }[] = [];
    const read = (async () => {
      for await (const m of pushes) {
        const claims = decodeClaims<{ revocations?: Record<string, number> }>(new TextDecoder().decode(m.data));
        seen.push({ sub: claims.sub, iat: claims.iat ?? 0, revocations: claims.nats.revocations ?? {} });
      }
    })();
    await Promise.race([read, new Promise((_, reject) => setTimeout(() => reject(new Error(`${seen.length} push(es) within ${4 * REFRESH_MS} ms`)), 4 * REFRESH_MS))]);
    const [first, second] = seen;
    assert.equal(first!.sub, second!.sub, 'the same account both times');
    assert.ok(second!.iat > first!.iat, 'the second push is newer, so the servers take it');
    assert.deepEqual(second!.revocations, first!.revocations);
  });

  test('an unknown enrollment token and a malformed key are refused', async () => {
    const body = { deviceId: 'dev-x', publicKey: `U${'A'.repeat(55)}`, hostname: 'x', platform: 'linux', agentVersion: '0.1.0' };
    const unknown = await fetch(`${cp.gatewayUrl}/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, token: 'no-such-token' }) });
    assert.equal(unknown.status, 401);
    assert.equal(((await unknown.json()) as { code: string }).code, 'LICENSING.ENROLLMENT_TOKEN_INVALID');
    const bad = await fetch(`${cp.gatewayUrl}/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, publicKey: 'not-a-key', token: 'x' }) });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /publicKey/);
  });
});
