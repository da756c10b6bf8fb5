import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DeviceEnrolled, DeviceEnrolledV1, ErrorCode, FleetcastError, LicenseOverage, WebhookDeliveryBody, WebhooksRpc } from '@fleetcast/contracts';
import { connectNats, NatsConnection, RpcClient } from '@fleetcast/nats';
import { createTestDatabase, freePort, NatsServer, NodeProcess, spawnNodeProcess, startNatsServer, TestDatabase, waitFor } from '@fleetcast/testing';
import { verifyWebhook, WEBHOOK_DELIVERY_HEADER, WEBHOOK_EVENT_HEADER, WEBHOOK_SIGNATURE_HEADER } from '@fleetcast/webhook-signature';

/**
 * The webhooks service as it runs: its own process (so that it can be killed), a real nats-server in
 * operator mode, a real Postgres, events published as the services' outboxes publish them, and real
 * HTTP receivers on loopback (allowed explicitly, as an administrator would).
 */
const SUITE_TIMEOUT_MS = 180_000;
const ENTRY = join(__dirname, '..', 'src', 'main.js');

/** What a receiver got: the request and what it answered. */
interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  answered: number | null;
}

/** A receiver on loopback; `answer` decides each request's status (null: never answer). */
async function startReceiver(answer: (n: number, request: Received) => number | null): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const held: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request: Received = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered: null };
      received.push(request);
      const status = answer(received.length, request);
      request.answered = status;
      if (status === null) held.push(res);
      else if (status >= 300 && status < 400) res.writeHead(status, { location: 'http://127.0.0.1:1/elsewhere' }).end();
      else res.writeHead(status).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: async () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function enrolledEvent(deviceId: string): DeviceEnrolledV1 {
  return { deviceId, hostname: `${deviceId}.example`, platform: 'linux', agentVersion: '0.1.0', group: null, tokenId: 'tok-1', occurredAt: new Date().toISOString() };
}

async function codeOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof FleetcastError) return { code: error.code, message: error.message };
    throw error;
  }
  assert.fail('expected a rejection');
}

describe('webhooks service: signed deliveries, retries, refusals and a crash', { timeout: SUITE_TIMEOUT_MS }, () => {
  let nats: NatsServer;
  let database: TestDatabase;
  let nc: NatsConnection;
  let rpc: RpcClient;
  let work: string;
  let service: NodeProcess;
  let httpPort: number;
  const closers: Array<() => Promise<void>> = [];

  const start = async () => {
    service = await spawnNodeProcess(ENTRY, {
      name: 'webhooks',
      logFile: join(work, 'webhooks.log'),
      env: {
        NATS_URL: nats.url,
        NATS_CREDS_FILE: nats.trust!.credsFile('webhooks'),
        DATABASE_URL: database.url,
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(httpPort),
        LOG_LEVEL: 'info',
        WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8',
        WEBHOOK_TIMEOUT_MS: '1000',
        WEBHOOK_RETRY_BASE_MS: '100',
        WEBHOOK_RETRY_MAX_MS: '400',
        // Three seconds of retries: long enough for the flaky receiver's four attempts, short enough to see one die.
        WEBHOOK_RETRY_PERIOD_MS: '3000',
        WEBHOOK_POLL_MS: '100',
      },
    });
    await waitFor(() => fetch(`http://127.0.0.1:${httpPort}/readyz`).then((r) => r.ok, () => false), { timeoutMs: 60_000, description: `webhooks ready (${service.describe()})` });
  };

  const publishEnrolled = async (deviceId: string) => {
    await nc.jetstream().publish(DeviceEnrolled.subject(), new TextEncoder().encode(JSON.stringify(enrolledEvent(deviceId))), { msgID: `test-${randomUUID()}` });
  };

  const subscribe = (url: string, events: Array<'device.enrolled' | 'license.overage'> = ['device.enrolled']) => rpc.call(WebhooksRpc.createSubscription, { url, events });

  before(async () => {
    nats = await startNatsServer();
    database = await createTestDatabase('webhooks_int');
    work = await mkdtemp(join(tmpdir(), 'fleetcast-webhooks-int-'));
    nc = await connectNats({ ...nats.adminConnectOptions(), servers: nats.url, name: 'webhooks-test' });
    rpc = new RpcClient(nc);
    httpPort = await freePort('127.0.0.1');
    await start();
  });

  after(async () => {
    for (const close of closers.reverse()) await close();
    await service?.stop();
    await nc?.close();
    await nats?.stop();
    await database?.drop();
    if (work && !process.env.FLEETCAST_KEEP_TEST_FILES) await rm(work, { recursive: true, force: true });
  });

  it('refuses private, metadata and loopback-looking URLs not allowed, other schemes and credentials in the URL, naming why', async () => {
    const table: Array<[string, RegExp]> = [
      ['http://10.1.2.3/hook', /10\.1\.2\.3 is a private address/],
      ['http://169.254.169.254/latest/meta-data', /cloud metadata address/],
      ['http://[::1]:8080/hook', /::1 is a loopback address/],
      ['http://192.168.0.10/hook', /private/],
      ['ftp://127.0.0.1/hook', /scheme ftp: is not http or https/],
      ['http://user:pass@127.0.0.1/hook', /credentials in the URL/],
    ];
    for (const [url, reason] of table) {
      const refused = await codeOf(subscribe(url));
      assert.equal(refused.code, ErrorCode.WebhookUrlRefused, url);
      assert.match(refused.message, reason, url);
    }
    assert.equal((await codeOf(rpc.call(WebhooksRpc.createSubscription, { url: 'http://127.0.0.1/', events: [] as never }))).code, ErrorCode.ContractInvalid);
  });

  it('delivers a device.enrolled event signed: the shipped helper verifies it with the secret and refuses it with another or when stale', async () => {
    const receiver = await startReceiver(() => 204);
    closers.push(receiver.close);
    const other = await startReceiver(() => 204);
    closers.push(other.close);
    const { subscription, secret } = await subscribe(receiver.url);
    assert.ok(secret.startsWith('whsec_') && secret.length > 40, 'a secret is made when none is given');
    assert.equal(subscription.secretHint, secret.slice(-4));
    // Another subscription, to another event type: it hears nothing of this one.
    await subscribe(other.url, ['license.overage']);
    await publishEnrolled('dev-signed');
    await waitFor(() => receiver.received.length >= 1, { timeoutMs: 15_000, description: 'the delivery at the receiver' });
    const got = receiver.received[0]!;
    const body = JSON.parse(got.body) as WebhookDeliveryBody;
    assert.equal(body.type, 'device.enrolled');
    assert.equal((body.data as { deviceId: string }).deviceId, 'dev-signed');
    assert.equal(got.headers[WEBHOOK_DELIVERY_HEADER], body.id);
    assert.equal(got.headers[WEBHOOK_EVENT_HEADER], 'device.enrolled');
    assert.deepEqual(verifyWebhook({ secret, header: got.headers[WEBHOOK_SIGNATURE_HEADER], body: got.body }).ok, true);
    assert.equal(verifyWebhook({ secret: 'whsec_not-the-one', header: got.headers[WEBHOOK_SIGNATURE_HEADER], body: got.body }).ok, false);
    assert.match((verifyWebhook({ secret, header: got.headers[WEBHOOK_SIGNATURE_HEADER], body: got.body, now: Math.floor(Date.now() / 1000) + 3600 }) as { reason: string }).reason, /tolerance/);
    const delivery = await waitFor(async () => {
      const d = await rpc.call(WebhooksRpc.getDelivery, { id: body.id });
      return d.state === 'delivered' ? d : undefined;
    }, { timeoutMs: 5_000, description: 'the delivery marked delivered' });
    assert.deepEqual(delivery.attemptLog.map((a) => a.status), [204]);
    assert.equal(other.received.length, 0, 'a subscription to another type hears nothing');
  });

  it('a receiver that fails three times, then succeeds, gets exactly one accepted delivery; the log shows every attempt', async () => {
    const receiver = await startReceiver((n) => (n <= 3 ? 500 : 200));
    closers.push(receiver.close);
    const { subscription } = await subscribe(receiver.url);
    await publishEnrolled('dev-flaky');
    await waitFor(() => receiver.received.some((r) => r.answered === 200), { timeoutMs: 20_000, description: 'the fourth attempt accepted' });
    // Time for a fifth attempt, if one were (wrongly) made.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(receiver.received.filter((r) => r.answered === 200).length, 1);
    assert.equal(receiver.received.length, 4);
    const ids = new Set(receiver.received.map((r) => r.headers[WEBHOOK_DELIVERY_HEADER]));
    assert.equal(ids.size, 1, 'every attempt carries the same delivery ID');
    const [listed] = (await rpc.call(WebhooksRpc.listDeliveries, { subscriptionId: subscription.id })).items;
    const delivery = await rpc.call(WebhooksRpc.getDelivery, { id: listed!.id });
    assert.equal(delivery.state, 'delivered');
    assert.deepEqual(delivery.attemptLog.map((a) => a.status), [500, 500, 500, 200]);
    assert.match(delivery.attemptLog[0]!.error ?? '', /answered 500/);
  });

  it('a redirect is not followed; retries end dead after the retry period, and a redelivery by hand succeeds', async () => {
    let mode: 'redirect' | 'ok' = 'redirect';
    const receiver = await startReceiver(() => (mode === 'redirect' ? 302 : 200));
    closers.push(receiver.close);
    const { subscription } = await subscribe(receiver.url);
    await publishEnrolled('dev-redirect');
    const first = await waitFor(async () => (await rpc.call(WebhooksRpc.listDeliveries, { subscriptionId: subscription.id })).items[0], { timeoutMs: 10_000, description: 'a delivery' });
    await waitFor(async () => (await rpc.call(WebhooksRpc.getDelivery, { id: first.id })).attemptLog.length >= 2, { timeoutMs: 10_000, description: 'two attempts' });
    const log = (await rpc.call(WebhooksRpc.getDelivery, { id: first.id })).attemptLog;
    assert.equal(log[0]!.status, 302);
    assert.match(log[0]!.error ?? '', /redirect to http:\/\/127\.0\.0\.1:1\/elsewhere not followed/);
    // The retry period (3 s here) ends: the delivery is dead, then redelivered by hand.
    const dead = await waitFor(async () => {
      const d = await rpc.call(WebhooksRpc.getDelivery, { id: first.id });
      return d.state === 'dead' ? d : undefined;
    }, { timeoutMs: 15_000, description: 'the delivery dead after its retry period' });
    assert.ok(dead.attempts >= 3, `${dead.attempts} attempts before it died`);
    assert.equal(dead.nextAttemptAt, null);
    mode = 'ok';
    const redelivered = await rpc.call(WebhooksRpc.redeliver, { id: first.id });
    assert.equal(redelivered.state, 'pending');
    await waitFor(async () => (await rpc.call(WebhooksRpc.getDelivery, { id: first.id })).state === 'delivered', { timeoutMs: 10_000, description: 'the redelivery accepted' });
    assert.equal((await codeOf(rpc.call(WebhooksRpc.redeliver, { id: randomUUID() }))).code, ErrorCode.WebhookDeliveryNotFound);
  });

  it('a receiver that never answers is given up on at the timeout (1 s here), and the attempt logged as such', async () => {
    const receiver = await startReceiver(() => null);
    closers.push(receiver.close);
    const { subscription } = await subscribe(receiver.url);
    await publishEnrolled('dev-silent');
    const delivery = await waitFor(async () => {
      const [d] = (await rpc.call(WebhooksRpc.listDeliveries, { subscriptionId: subscription.id })).items;
      return d !== undefined && d.attempts >= 1 ? rpc.call(WebhooksRpc.getDelivery, { id: d.id }) : undefined;
    }, { timeoutMs: 15_000, description: 'a first attempt logged' });
    const attempt = delivery.attemptLog[0]!;
    assert.equal(attempt.status, null);
    assert.match(attempt.error ?? '', /no answer within 1000 ms/);
    assert.ok(attempt.durationMs >= 1_000 && attempt.durationMs < 3_000, `${attempt.durationMs} ms`);
    await rpc.call(WebhooksRpc.deleteSubscription, { id: subscription.id });
    assert.equal((await rpc.call(WebhooksRpc.getDelivery, { id: delivery.id })).state, 'dead', 'a deleted subscription ends its pending deliveries');
  });

  it('a malformed event is dead-lettered and the service goes on delivering', async () => {
    const receiver = await startReceiver(() => 200);
    closers.push(receiver.close);
    await subscribe(receiver.url, ['license.overage', 'device.enrolled']);
    await nc.jetstream().publish(LicenseOverage.subject(), new TextEncoder().encode('{"not":"an overage"}'), { msgID: `test-${randomUUID()}` });
    await publishEnrolled('dev-after-garbage');
    await waitFor(() => receiver.received.some((r) => r.body.includes('dev-after-garbage')), { timeoutMs: 15_000, description: 'the valid event after the malformed one' });
    assert.ok(receiver.received.every((r) => !r.body.includes('not')), 'the malformed event made no delivery');
    assert.ok(service.running);
  });

  it('killed mid-delivery, the service loses nothing: restarted, it delivers the same delivery (same ID) once its lease ends', async () => {
    let answering = false;
    const receiver = await startReceiver(() => (answering ? 200 : null));
    closers.push(receiver.close);
    const { subscription } = await subscribe(receiver.url);
    await publishEnrolled('dev-crash');
    // The request is at the receiver, which holds it: the service is mid-delivery.
    await waitFor(() => receiver.received.length >= 1, { timeoutMs: 15_000, description: 'the first attempt at the receiver' });
    await service.kill();
    answering = true;
    await start();
    await waitFor(() => receiver.received.some((r) => r.answered === 200), { timeoutMs: 20_000, description: 'the delivery after the restart' });
    const ids = new Set(receiver.received.map((r) => r.headers[WEBHOOK_DELIVERY_HEADER]));
    assert.equal(ids.size, 1, 'the same delivery ID: a receiver that de-duplicates handles the event once');
    // The receiver's 200 is in before the service records it: wait for the record, not the answer.
    const items = await waitFor(
      async () => {
        const { items } = await rpc.call(WebhooksRpc.listDeliveries, { subscriptionId: subscription.id });
        return items.length === 1 && items[0]!.state !== 'pending' ? items : null;
      },
      { timeoutMs: 10_000, description: 'the delivery recorded as done' },
    );
    assert.equal(items[0]!.state, 'delivered');
  });
});
