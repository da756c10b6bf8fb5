import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, NatsConnection, RetentionPolicy, StorageType } from 'nats';
import { DataSource } from 'typeorm';
import { createLogger, createMetricsRegistry } from '@fleetcast/telemetry';
import { createTestDatabase, startNatsServer, stopAll, TestDatabase, waitFor } from '@fleetcast/testing';
import { createOutboxTable, enqueueOutbox, OutboxRelay } from './outbox';

let db: TestDatabase | undefined;
const closers: Array<() => Promise<unknown>> = [];

after(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await stopAll();
  await db?.drop();
});

test('the relay removes what JetStream acknowledged and publishes again only the rest', { timeout: 60_000 }, async () => {
  const nats = await startNatsServer({ auth: 'open' });
  db = await createTestDatabase('outbox');
  const dataSource = await new DataSource({ type: 'postgres', url: db.url }).initialize();
  closers.push(() => dataSource.destroy());
  await dataSource.query('CREATE SCHEMA relay');
  const runner = dataSource.createQueryRunner();
  await createOutboxTable(runner, 'relay');
  await runner.release();

  const nc: NatsConnection = await connect({ servers: nats.url });
  closers.push(() => nc.close());
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: 'RELAY_TEST', subjects: ['stored.>'], retention: RetentionPolicy.Limits, storage: StorageType.File });
  // A live subscriber sees every publish, repeats included (the stream drops repeats, it does not).
  const seen: string[] = [];
  const sub = nc.subscribe('stored.>', { callback: (_e, m) => seen.push(m.subject) });
  closers.push(async () => sub.unsubscribe());
  await nc.flush();

  // Three messages a stream takes, two that none does: their publishes are never acknowledged.
  await dataSource.transaction((m) =>
    enqueueOutbox(m, 'relay', [
      { subject: 'stored.a', payload: { n: 1 } },
      { subject: 'nowhere.b', payload: { n: 2 } },
      { subject: 'stored.c', payload: { n: 3 } },
      { subject: 'nowhere.d', payload: { n: 4 } },
      { subject: 'stored.e', payload: { n: 5 } },
    ]),
  );
  // The relay's warnings, one per batch with unacknowledged publishes.
  const warnings: Array<{ failed: number; of: number }> = [];
  const logger = Object.assign(Object.create(createLogger('outbox-test', 'silent')), { warn: (o: { failed: number; of: number }) => void warnings.push(o) });
  const relay = new OutboxRelay({ dataSource, schema: 'relay', nc, logger, metrics: createMetricsRegistry('outbox-test'), pollIntervalMs: 50 });
  relay.start();
  closers.push(async () => relay.stop());
  relay.kick();

  await waitFor(async () => (await jsm.streams.info('RELAY_TEST')).state.messages === 3, { timeoutMs: 10_000, description: 'the three storable messages stored' });
  // Several more rounds of the relay: the failing rows are tried again each time.
  await waitFor(() => warnings.length >= 3, { timeoutMs: 20_000, description: 'the unacknowledged rows tried again' });
  assert.deepEqual(warnings[0], { ...warnings[0], failed: 2, of: 5 });
  assert.ok(warnings.slice(1).every((w) => w.failed === 2 && w.of === 2), 'later rounds try only the two left');
  const left = (await dataSource.query(`SELECT subject FROM relay.outbox ORDER BY id`)) as Array<{ subject: string }>;
  assert.deepEqual(left.map((r) => r.subject), ['nowhere.b', 'nowhere.d'], 'only the unacknowledged rows stay in the outbox');
  assert.deepEqual(
    seen.filter((s) => s.startsWith('stored.')).sort(),
    ['stored.a', 'stored.c', 'stored.e'],
    'each acknowledged message went out once, not again with every retry of the others',
  );
});
