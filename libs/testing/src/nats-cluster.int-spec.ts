import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, connect, JSONCodec, NatsConnection } from 'nats';
import { ConsumerDefinition, StreamDefinition } from '@fleetcast/contracts';
import { ensureConsumer, ensureStreams } from '@fleetcast/nats';
import { stopAll } from './cleanup-registry';
import { startNatsCluster } from './nats-cluster';
import { waitFor } from './wait-for';

const codec = JSONCodec<{ n: number }>();
const connections: NatsConnection[] = [];

after(async () => {
  await Promise.allSettled(connections.map((nc) => nc.close()));
  await stopAll();
});

const stream: StreamDefinition = {
  name: 'CLUSTER_TEST',
  subjects: ['cluster.test.>'],
  maxAgeSeconds: 3600,
  duplicateWindowSeconds: 120,
  maxMsgsPerSubject: -1,
  maxBytes: 64 * 1024 * 1024,
};
const consumer: ConsumerDefinition = {
  stream,
  durableName: 'cluster-test-reader',
  filterSubject: 'cluster.test.>',
  ackWaitSeconds: 5,
  maxDeliver: 10,
};

/** Publishes message n with its number as the deduplication ID, retrying through a leader election. */
async function publish(nc: NatsConnection, n: number): Promise<void> {
  const js = nc.jetstream();
  await waitFor(
    async () => {
      try {
        await js.publish(`cluster.test.${n % 7}`, codec.encode({ n }), { msgID: `m-${n}`, timeout: 2_000 });
        return true;
      } catch {
        return false;
      }
    },
    { timeoutMs: 30_000, intervalMs: 200, description: `message ${n} stored` },
  );
}

test('a 3-node cluster keeps a replicated stream and its consumer through the loss of the leader', { timeout: 180_000 }, async () => {
  const cluster = await startNatsCluster({ size: 3 });
  assert.equal(cluster.nodes.length, 3);
  assert.equal(cluster.url.split(',').length, 3);
  const nc = await connect({ ...cluster.adminConnectOptions(), maxReconnectAttempts: -1, reconnectTimeWait: 100, timeout: 2_000 });
  connections.push(nc);

  // Made as a single-server deployment would make it, then grown to three copies, as a service
  // restarted with JETSTREAM_REPLICAS=3 does.
  const first = await ensureStreams(nc, [stream], { replicas: 1 });
  assert.deepEqual(first.created, ['CLUSTER_TEST']);
  const grown = await ensureStreams(nc, [stream], { replicas: 3 });
  assert.deepEqual(grown.updated.map((u) => [u.name, u.changed]), [['CLUSTER_TEST', ['num_replicas']]]);
  const jsm = await nc.jetstreamManager();
  await waitFor(async () => (await jsm.streams.info(stream.name)).cluster?.replicas?.filter((r) => r.current).length === 2, {
    timeoutMs: 30_000,
    intervalMs: 200,
    description: 'two current followers of the stream leader',
  });
  assert.deepEqual((await ensureStreams(nc, [stream], { replicas: 3 })).unchanged, ['CLUSTER_TEST']);
  await ensureConsumer(jsm, consumer);

  for (let n = 0; n < 100; n++) await publish(nc, n);

  // The node that leads the stream dies without a word.
  const leaderName = (await jsm.streams.info(stream.name)).cluster?.leader;
  const leader = cluster.nodes.find((node) => leaderName === `fleetcast-test-${node.port}`);
  assert.ok(leader, `the stream leader ${leaderName} is one of the cluster's nodes`);
  await leader.halt({ signal: 'SIGKILL' });

  for (let n = 100; n < 200; n++) await publish(nc, n);
  // A publish repeated after a lost acknowledgement is stored once.
  await publish(nc, 150);
  const info = await waitFor(
    async () => {
      try {
        const i = await jsm.streams.info(stream.name);
        return i.cluster?.leader && i.cluster.leader !== leaderName ? i : undefined;
      } catch {
        return undefined;
      }
    },
    { timeoutMs: 30_000, intervalMs: 200, description: 'a new stream leader' },
  );
  assert.equal(info.state.messages, 200);

  const seen = new Map<number, number>();
  // The consumer's own leader may still be moving after the stream's: its info request can time out.
  const reader = await waitFor(
    async () => {
      try {
        return await nc.jetstream().consumers.get(stream.name, consumer.durableName);
      } catch {
        return undefined;
      }
    },
    { timeoutMs: 30_000, intervalMs: 200, description: 'the consumer answering after the leader change' },
  );
  await waitFor(
    async () => {
      try {
        const batch = await reader.fetch({ max_messages: 100, expires: 1_000 });
        for await (const m of batch) {
          const { n } = codec.decode(m.data);
          seen.set(n, (seen.get(n) ?? 0) + 1);
          await m.ackAck();
        }
      } catch {
        // The consumer's own leader may be moving; ask again.
      }
      return seen.size === 200;
    },
    { timeoutMs: 60_000, intervalMs: 50, description: 'all 200 messages read' },
  );
  assert.deepEqual([...seen.keys()].sort((a, b) => a - b), Array.from({ length: 200 }, (_, n) => n));
  assert.ok([...seen.values()].every((count) => count === 1), 'no message delivered twice after its acknowledgement');

  // The node comes back and catches up: three current copies again.
  await leader.start();
  await waitFor(
    async () => {
      const i = await jsm.streams.info(stream.name).catch(() => undefined);
      return (i?.cluster?.replicas ?? []).filter((r) => r.current).length === 2;
    },
    { timeoutMs: 60_000, intervalMs: 250, description: 'the restarted node current again' },
  );
  // The consumer kept its place through it all: nothing is delivered again.
  const again = await reader.fetch({ max_messages: 10, expires: 2_000 });
  const redelivered: number[] = [];
  for await (const m of again) redelivered.push(codec.decode(m.data).n);
  assert.deepEqual(redelivered, [], 'no acknowledged message delivered again after the restart');
  const consumerInfo = await waitFor(
    async () => {
      const info = await jsm.consumers.info(stream.name, consumer.durableName).catch(() => undefined);
      return info && info.num_pending === 0 && info.num_ack_pending === 0 ? info : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250, description: 'the consumer reporting nothing pending' },
  );
  assert.equal(consumerInfo.config.ack_policy, AckPolicy.Explicit);
  await cluster.stop();
});
