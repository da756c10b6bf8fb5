import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, JSONCodec, NatsConnection } from 'nats';
import { deviceInboxPrefix, DeviceStatusReported, Streams, TaskAssigned, TasksDeviceRpc } from '@fleetcast/contracts';
import { ensureStreams, natsAuthenticator } from '@fleetcast/nats';
import {
  createDeviceKey,
  encodeFleetAccount,
  formatCreds,
  issueDeviceUserJwt,
  keyPairFromSeed,
  publicKeyOf,
  pushAccountJwt,
  readTrustDir,
  userIssuerOf,
} from '@fleetcast/trust';
import { stopAll } from './cleanup-registry';
import { startNatsCluster } from './nats-cluster';
import { startNatsLeaf, waitForLeafLinks } from './nats-leaf';
import { startTcpRelay } from './tcp-relay';
import { waitFor } from './wait-for';

const codec = JSONCodec<{ n: number }>();
const connections: NatsConnection[] = [];

after(async () => {
  await Promise.allSettled(connections.map((nc) => nc.close()));
  await stopAll();
});

test('a branch leaf carries its devices to the core, holds them through a WAN cut and cuts off a retired one', { timeout: 180_000 }, async () => {
  const core = await startNatsCluster({ size: 3 });
  const admin = await connect({ ...core.adminConnectOptions(), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  connections.push(admin);
  await ensureStreams(admin, [Streams.deviceStatus], { replicas: 3 });

  // The branch's WAN link: a relay in front of each core node's leaf port, which the test can cut.
  const relays = await Promise.all(core.leafUrls.map((u) => startTcpRelay({ port: Number(new URL(u.replace('nats-leaf', 'http')).port) })));
  const leaf = await startNatsLeaf({ core: { leafUrls: relays.map((r) => `nats-leaf://127.0.0.1:${r.port}`), trustDir: core.trust.dir, jetstreamDomain: core.jetstreamDomain } });

  const trust = await readTrustDir(core.trust.dir);
  const device = async (id: string) => {
    const key = createDeviceKey();
    const jwt = await issueDeviceUserJwt(userIssuerOf(trust), id, key.publicKey);
    const nc = await connect({
      servers: leaf.url,
      authenticator: natsAuthenticator({ jwt, seed: key.seed }),
      inboxPrefix: deviceInboxPrefix(id),
      maxReconnectAttempts: 0,
      reconnect: false,
    });
    connections.push(nc);
    return { nc, publicKey: key.publicKey, authenticator: natsAuthenticator({ jwt, seed: key.seed }), errors: [] as string[] };
  };
  const a = await device('branch-a');
  void (async () => {
    for await (const s of a.nc.status()) if (s.type === 'error') a.errors.push(String(s.data));
  })();

  // Its own status subject reaches the core's stream, acknowledged across the leaf.
  const ack = await a.nc.jetstream().publish(DeviceStatusReported.subject('branch-a'), codec.encode({ n: 1 }), { msgID: 'a-1' });
  assert.equal(ack.stream, Streams.deviceStatus.name);
  // Another device's subject is refused at the leaf, by the device's own JWT.
  await assert.rejects(a.nc.jetstream().publish(DeviceStatusReported.subject('branch-b'), codec.encode({ n: 2 }), { timeout: 2_000 }));
  // What the core sends the device arrives through the link, and the device's queries are answered.
  const assigned = a.nc.subscribe(TaskAssigned.deviceFilter('branch-a'), { max: 1 });
  await a.nc.flush();
  const settings = admin.subscribe(TasksDeviceRpc.getSettings.subjectFor('branch-a'));
  void (async () => {
    for await (const m of settings) m.respond(codec.encode({ n: 42 }));
  })();
  await admin.flush();
  await waitFor(
    async () => {
      admin.publish(TaskAssigned.subject('branch-a'), codec.encode({ n: 3 }));
      const reply = await a.nc.request(TasksDeviceRpc.getSettings.subjectFor('branch-a'), codec.encode({ n: 0 }), { timeout: 1_000 }).catch(() => undefined);
      return reply !== undefined && codec.decode(reply.data).n === 42;
    },
    { timeoutMs: 10_000, description: "the device's query answered by the core" },
  );
  for await (const m of assigned) assert.equal(codec.decode(m.data).n, 3);

  const trustSystem = await connect({ ...core.trust.connectOptions('system') });
  connections.push(trustSystem);
  const fleetAccount = (revoked: Record<string, number>) =>
    encodeFleetAccount(publicKeyOf(trust.fleetAccount.seed), keyPairFromSeed(trust.fleetAccount.signingSeed).getPublicKey(), keyPairFromSeed(trust.operator.signingSeed), revoked);
  const revokedAt = (key: string) => ({ [key]: Math.floor(Date.now() / 1000) + 1 });
  const c = await device('branch-c');
  const cClosed = c.nc.closed();

  // The WAN goes down for a while: the device stays connected to its leaf; what needs the core waits.
  for (const r of relays) r.cut();
  await assert.rejects(a.nc.jetstream().publish(DeviceStatusReported.subject('branch-a'), codec.encode({ n: 4 }), { msgID: 'a-4', timeout: 1_000 }));
  // A device retired meanwhile: the core takes it, the leaf cannot hear of it.
  const cRevoked = revokedAt(c.publicKey);
  await pushAccountJwt(trustSystem, await fleetAccount(cRevoked));
  await new Promise((r) => setTimeout(r, 3_000));
  assert.equal(a.nc.isClosed(), false, 'the device keeps its connection to the leaf through the cut');
  for (const r of relays) r.restore();
  // The same message, sent again after the link is back, is stored once.
  await waitFor(
    async () => a.nc.jetstream().publish(DeviceStatusReported.subject('branch-a'), codec.encode({ n: 4 }), { msgID: 'a-4', timeout: 1_000 }).then(() => true, () => false),
    { timeoutMs: 30_000, intervalMs: 250, description: 'the link back: a publish from the branch stored' },
  );
  await a.nc.jetstream().publish(DeviceStatusReported.subject('branch-a'), codec.encode({ n: 4 }), { msgID: 'a-4' });
  const jsm = await admin.jetstreamManager();
  assert.equal((await jsm.streams.info(Streams.deviceStatus.name)).state.messages, 2);

  // Retired at the core: the revocation reaches the leaf over its system link, which drops the device.
  // That link comes back from the cut on its own timer, maybe after the fleet link that carried the
  // publish above: a retirement pushed while it is still down would not reach this leaf.
  await waitForLeafLinks(leaf);
  // The leaf did not hear of the retirement pushed during the cut, and the link's return does not tell it.
  await new Promise((r) => setTimeout(r, 2_000));
  assert.equal(c.nc.isClosed(), false, 'a retirement pushed during the cut reaches the leaf only with a later push');
  const b = await device('branch-b');
  const closed = b.nc.closed();
  // The account pushed again carries both revocations (as the licensing service's periodic push does):
  // the device retired during the cut is dropped too, now that the leaf hears.
  await pushAccountJwt(trustSystem, await fleetAccount({ ...cRevoked, ...revokedAt(b.publicKey) }));
  const within10s = (what: string) => new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} is still connected to the leaf after 10 s`)), 10_000));
  await Promise.race([closed, within10s('the retired device')]);
  await Promise.race([cClosed, within10s('the device retired during the cut')]);
  assert.equal(b.nc.isClosed(), true);
  assert.equal(c.nc.isClosed(), true);
  await assert.rejects(
    connect({ servers: leaf.url, authenticator: b.authenticator, reconnect: false, timeout: 2_000 }),
    /authorization|revoked/i,
    'the leaf refuses the retired device from then on',
  );
  assert.equal(a.nc.isClosed(), false, 'the other device is untouched');
  await leaf.stop();
  for (const r of relays) await r.close();
  await core.stop();
});
