import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, ConnectionOptions, JSONCodec, NatsConnection, RetentionPolicy, StorageType } from 'nats';
import { stopAll } from './cleanup-registry';
import { NatsServerNotFoundError, NatsServerStartError, startNatsServer } from './nats-server';
import { spawnNodeProcess } from './node-process';
import { makeTestCertificates } from './test-certificates';
import { connectNats, natsAuthenticator } from '@fleetcast/nats';
import { waitFor } from './wait-for';

const codec = JSONCodec<{ n: number }>();
const connections: NatsConnection[] = [];
type Target = Pick<ConnectionOptions, 'servers' | 'authenticator' | 'tls'>;
const client = async (target: Target, reconnect = false): Promise<NatsConnection> => {
  const nc = await connect({ ...target, reconnect, maxReconnectAttempts: -1, reconnectTimeWait: 100, timeout: 2_000 });
  connections.push(nc);
  return nc;
};
const accepts = async (target: Target): Promise<boolean> => {
  try {
    const nc = await connect({ ...target, reconnect: false, timeout: 500 });
    await nc.close();
    return true;
  } catch {
    return false;
  }
};

after(async () => {
  await Promise.allSettled(connections.map((nc) => nc.close()));
  await stopAll();
});

test('a started server carries publish/subscribe and request/reply', { timeout: 60_000 }, async () => {
  const nats = await startNatsServer();
  assert.equal(nats.url, `nats://127.0.0.1:${nats.port}`);
  assert.ok(nats.running);
  const nc = await client(nats.adminConnectOptions());
  const sub = nc.subscribe('fleet.test.>', { max: 2 });
  const responder = nc.subscribe('fleet.echo');
  void (async () => {
    for await (const m of responder) m.respond(m.data);
  })();
  nc.publish('fleet.test.a', codec.encode({ n: 1 }));
  nc.publish('fleet.test.b', codec.encode({ n: 2 }));
  const received: Array<[string, number]> = [];
  for await (const m of sub) received.push([m.subject, codec.decode(m.data).n]);
  assert.deepEqual(received, [['fleet.test.a', 1], ['fleet.test.b', 2]]);
  const reply = await nc.request('fleet.echo', codec.encode({ n: 7 }), { timeout: 2_000 });
  assert.equal(codec.decode(reply.data).n, 7);
  await nats.stop();
});

test('JetStream works and a stream outlives an outage and a crash; a reconnecting client carries on', { timeout: 60_000 }, async () => {
  const nats = await startNatsServer();
  const { url, port } = nats;
  const nc = await client(nats.adminConnectOptions(), true);
  let reconnects = 0;
  void (async () => {
    for await (const status of nc.status()) if (status.type === 'reconnect') reconnects += 1;
  })();
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: 'OUTAGE_TEST', subjects: ['outage.>'], storage: StorageType.File, retention: RetentionPolicy.Limits });
  const js = nc.jetstream();
  for (let n = 1; n <= 3; n++) await js.publish('outage.item', codec.encode({ n }));

  await nats.halt();
  assert.equal(nats.running, false);
  assert.equal(await accepts(nats.adminConnectOptions()), false, 'the outage is real');
  assert.ok(existsSync(nats.storeDir), 'the store survives a halt');
  await nats.start();
  assert.equal(nats.url, url);
  assert.equal(nats.port, port);

  await waitFor(() => reconnects === 1, { timeoutMs: 15_000, description: 'the client to reconnect' });
  // A retried publish with the same ID is stored once (the stream's duplicate window).
  const ack = await waitFor(() => js.publish('outage.item', codec.encode({ n: 4 }), { msgID: 'item-4', timeout: 1_000 }), {
    timeoutMs: 15_000,
    description: 'the reconnected client to publish again',
  });
  assert.equal(ack.seq, 4, 'sequence continues from the kept stream');

  await nats.restart({ signal: 'SIGKILL' });
  const fresh = await client(nats.adminConnectOptions());
  const info = await (await fresh.jetstreamManager()).streams.info('OUTAGE_TEST');
  assert.equal(info.state.messages, 4);
  const second = await (await fresh.jetstreamManager()).streams.getMessage('OUTAGE_TEST', { seq: 2 });
  assert.equal(codec.decode(second.data).n, 2);
  await nats.stop();
});

test('stop ends the server for good and removes its store', { timeout: 60_000 }, async () => {
  const nats = await startNatsServer();
  const other = await startNatsServer();
  assert.notEqual(nats.port, other.port);
  const nc = await client(nats.adminConnectOptions());
  await (await nc.jetstreamManager()).streams.add({ name: 'GONE', subjects: ['gone.>'] });
  assert.ok(existsSync(nats.storeDir));
  await nats.stop();
  assert.equal(existsSync(nats.storeDir), false);
  assert.equal(await accepts(nats.adminConnectOptions()), false);
  await nats.stop();
  await assert.rejects(nats.start(), /stopped for good/);
  assert.ok(await accepts(other.adminConnectOptions()), 'stopping one server leaves another alone');
  await other.stop();
});

test('without JetStream the server says so to a JetStream client', { timeout: 60_000 }, async () => {
  // Open: in operator mode a server without JetStream leaves the account's JetStream requests unanswered.
  const nats = await startNatsServer({ jetstream: false, auth: 'open' });
  const nc = await client(nats.adminConnectOptions());
  await assert.rejects(nc.jetstreamManager(), /jetstream.*not.*(enabled|available)|503/i);
  await nats.stop();
});

test('a missing binary and a bad argument fail with clear errors', { timeout: 60_000 }, async () => {
  await assert.rejects(startNatsServer({ binary: '/nonexistent/nats-server' }), (error: unknown) => {
    assert.ok(error instanceof NatsServerNotFoundError);
    assert.match(error.message, /nats-server not found \(looked at \/nonexistent\/nats-server\); install it/);
    return true;
  });
  await assert.rejects(startNatsServer({ args: ['--no-such-flag'] }), (error: unknown) => {
    assert.ok(error instanceof NatsServerStartError);
    assert.match(error.message, /nats-server exited with code \d+ while starting\nnats-server output:\n.*no-such-flag/s);
    return true;
  });
});

test('a test process that dies leaves no server and no store behind', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetcast-nats-test-'));
  const careless = join(dir, 'careless.js');
  writeFileSync(
    careless,
    `const { startNatsServer } = require(${JSON.stringify(join(__dirname, 'index.js'))});
     startNatsServer({ auth: 'open' }).then((s) => console.log('nats ' + s.url + ' ' + s.storeDir));`,
  );
  try {
    const proc = await spawnNodeProcess(careless);
    const [, url, storeDir] = await proc.waitForOutput(/nats (\S+) (\S+)/, { timeoutMs: 30_000 });
    assert.ok(await accepts({ servers: url! }));
    process.kill(proc.pid, 'SIGTERM');
    await proc.exited;
    await waitFor(async () => !(await accepts({ servers: url! })), { description: 'the orphaned server to be gone' });
    assert.equal(existsSync(storeDir!), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('in operator mode a client without credentials is refused, and each user keeps to its permissions', { timeout: 60_000 }, async () => {
  const nats = await startNatsServer();
  assert.equal(await accepts({ servers: nats.url }), false, 'no credentials: refused');
  assert.ok(await accepts(nats.adminConnectOptions()));
  assert.ok(await accepts(nats.trust!.connectOptions('inventory')));
  // The origin's user may publish only what the origin sends: not inventory scans.
  const origin = await client(nats.trust!.connectOptions('origin'));
  const violation = new Promise<string>((resolve) => {
    void (async () => {
      for await (const status of origin.status()) if (status.type === 'error') resolve(String(status.data));
    })();
  });
  origin.publish('inventory.evt.scan.submitted.v1.dev-1', codec.encode({ n: 1 }));
  assert.match(await violation, /PERMISSIONS_VIOLATION|Permissions Violation/i);
  await nats.stop();
});

test('an open server, when asked for, takes clients without credentials', { timeout: 60_000 }, async () => {
  const nats = await startNatsServer({ auth: 'open' });
  assert.equal(nats.trust, null);
  assert.ok(await accepts({ servers: nats.url }));
  await nats.stop();
});

test('with TLS, a client that trusts the CA connects with its credentials, and a plain one is refused', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetcast-tls-'));
  try {
    const certs = makeTestCertificates(dir);
    const nats = await startNatsServer({ tls: certs });
    // The services' and agents' own connection code, with the setting they take (NATS_TLS_CA_FILE, --nats-ca).
    const nc = await connectNats({ servers: nats.url, name: 'tls-test', authenticator: natsAuthenticator({ credsFile: nats.trust!.credsFile('inventory') }), tlsCaFile: certs.caFile });
    assert.ok(nc.info?.tls_required, 'the server requires TLS');
    await nc.close();
    assert.equal(await accepts({ ...nats.trust!.connectOptions('inventory'), tls: null }), false, 'no TLS: refused');
    await nats.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
