import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { StringCodec, Subscription } from 'nats';
import { Client } from 'pg';
import {
  Device,
  ErrorCode,
  FleetcastError,
  InventoryRpc,
  LicenseExpiring,
  LicenseExpiringV1,
  LicenseOverage,
  LicenseOverageV1,
  LicensingRpc,
  RpcReply,
} from '@fleetcast/contracts';
import { connectNats, NatsConnection, RpcClient } from '@fleetcast/nats';
import { createTestDatabase, startNatsServer, waitFor } from '@fleetcast/testing';
import { CleanupStack, metricSum, outboxBacklog, readEvents, RunningLicensing, startInProcess, TestIssuer } from './licensing-fixtures';

/** Ample for a cold start of NATS, Postgres databases and Nest on a loaded 2-core machine. */
const SUITE_TIMEOUT_MS = 180_000;
/** The periodic check and sweep run this often here, so that a test waits for them in a blink. */
const FAST_INTERVAL_MS = '200';
const DAY_MS = 86_400_000;

interface Environment {
  natsUrl: string;
  /** The licensing service's own NATS credentials (the test server runs in operator mode). */
  natsCreds: string;
  databaseUrl: string;
  nc: NatsConnection;
  rpc: RpcClient;
  db: Client;
}

/** A private nats-server, database and clients for one suite, torn down in reverse order by `cleanup`. */
async function startEnvironment(cleanup: CleanupStack, prefix: string): Promise<Environment> {
  const nats = await startNatsServer();
  cleanup.push(() => nats.stop());
  const database = await createTestDatabase(prefix);
  cleanup.push(() => database.drop());
  const nc = await connectNats({ ...nats.adminConnectOptions(), servers: nats.url, name: `${prefix}-test-client` });
  cleanup.push(() => nc.close());
  const db = new Client({ connectionString: database.url });
  await db.connect();
  cleanup.push(() => db.end());
  return { natsUrl: nats.url, natsCreds: nats.trust!.credsFile('licensing'), databaseUrl: database.url, nc, rpc: new RpcClient(nc), db };
}

/** The error code a promise rejects with. */
async function codeOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof FleetcastError) return { code: error.code, message: error.message };
    throw error;
  }
  assert.fail('expected a rejection');
}

/** Waits until the relay has published every outbox row, then reads the events of one subject. */
async function publishedEvents<T>(env: Environment, subject: string): Promise<T[]> {
  await waitFor(async () => (await outboxBacklog(env.db)) === 0, { description: 'the licensing outbox to drain' });
  return readEvents<T>(env.nc, subject);
}

describe('licensing: license installation and seats under the refuse policy', { timeout: SUITE_TIMEOUT_MS }, () => {
  const cleanup = new CleanupStack();
  const issuer = new TestIssuer();
  let env: Environment;
  let service: RunningLicensing;

  before(async () => {
    env = await startEnvironment(cleanup, 'licensing_int');
    service = await startInProcess({
      NATS_URL: env.natsUrl,
      NATS_CREDS_FILE: env.natsCreds,
      DATABASE_URL: env.databaseUrl,
      LICENSE_PUBLIC_KEY: issuer.publicKey,
      LICENSE_CHECK_INTERVAL_MS: FAST_INTERVAL_MS,
      SEAT_SWEEP_INTERVAL_MS: FAST_INTERVAL_MS,
    });
    cleanup.push(() => service.app.close());
  });
  after(() => cleanup.run());

  it('reports itself ready, with no license and every seat refused', async () => {
    const ready = await fetch(`${service.httpUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(((await ready.json()) as { checks: unknown }).checks, { nats: 'ok', database: 'ok' });
    const status = await env.rpc.call(LicensingRpc.getLicense, {});
    assert.deepEqual(status, {
      state: 'none',
      policy: 'refuse',
      licenseId: null,
      customer: null,
      seats: 0,
      used: 0,
      over: 0,
      features: [],
      issuedAt: null,
      expiresAt: null,
      installedAt: null,
      graceUntil: null,
    });
    const refused = await codeOf(service.seats.assign('dev-early'));
    assert.equal(refused.code, ErrorCode.NoLicense);
    assert.match(refused.message, /no license is installed/);
  });

  it('refuses malformed, tampered, foreign and expired keys with their codes, and installs nothing', async () => {
    const { key } = issuer.issue();
    const [prefix, body, signature] = key.split('.') as [string, string, string];
    const tamperedBody = Buffer.from(Buffer.from(body, 'base64url').toString('utf8').replace('"seats":3', '"seats":9')).toString('base64url');
    const cases: Array<[string, string, string, RegExp]> = [
      ['malformed', 'not-a-license', ErrorCode.LicenseInvalid, /not a license key/],
      ['tampered payload', `${prefix}.${tamperedBody}.${signature}`, ErrorCode.LicenseInvalid, /signature does not match/],
      ['tampered signature', `${prefix}.${body}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`, ErrorCode.LicenseInvalid, /signature does not match/],
      ['signed by another issuer', new TestIssuer().issue().key, ErrorCode.LicenseInvalid, /signed by another issuer/],
      ['expired', issuer.issue({ expiresInMs: -1000 }).key, ErrorCode.LicenseExpired, /expired at/],
    ];
    for (const [name, text, code, message] of cases) {
      await assert.rejects(env.rpc.call(LicensingRpc.installLicense, { key: text }), (error: FleetcastError) => {
        assert.equal(error.code, code, `${name}: ${error.message}`);
        assert.match(error.message, message, name);
        assert.deepEqual(error.details?.map((d) => d.path), ['key'], name);
        return true;
      });
    }
    assert.equal((await env.rpc.call(LicensingRpc.getLicense, {})).state, 'none');
    const empty = await codeOf(env.rpc.call(LicensingRpc.installLicense, { key: '' }));
    assert.equal(empty.code, ErrorCode.ContractInvalid);
  });

  it('installs a license (whitespace in the key ignored), and installing it again changes nothing', async () => {
    const { key, license } = issuer.issue({ seats: 3, features: ['multicast', 'peer'] });
    const status = await env.rpc.call(LicensingRpc.installLicense, { key: `${key.slice(0, 30)}\n  ${key.slice(30)}\n` });
    assert.equal(status.state, 'valid');
    assert.equal(status.licenseId, license.licenseId);
    assert.equal(status.customer, 'Example Corp');
    assert.equal(status.seats, 3);
    assert.equal(status.used, 0);
    assert.deepEqual(status.features, ['multicast', 'peer']);
    assert.equal(status.expiresAt, license.expiresAt);
    const again = await env.rpc.call(LicensingRpc.installLicense, { key });
    assert.equal(again.installedAt, status.installedAt, 'the active license is not installed a second time');
    const { rows } = await env.db.query<{ key_text: string }>('SELECT key_text FROM licensing.licenses');
    assert.deepEqual(rows, [{ key_text: key }]);
  });

  it('gives and releases seats: one per device, idempotent both ways, listed for the API', async () => {
    const first = await service.seats.assign('dev-a');
    assert.equal(first.newlyAssigned, true);
    assert.deepEqual([first.used, first.seats, first.overLimit], [1, 3, false]);
    await service.seats.assign('dev-b');
    const repeat = await service.seats.assign('dev-a');
    assert.equal(repeat.newlyAssigned, false);
    assert.equal(repeat.used, 2);
    assert.equal(repeat.assignedAt.getTime(), first.assignedAt.getTime());
    assert.equal((await env.rpc.call(LicensingRpc.getLicense, {})).used, 2);

    assert.equal(await service.seats.release('dev-a', 'retired'), true);
    assert.equal(await service.seats.release('dev-a', 'retired'), false, 'a second release finds no seat');
    assert.equal(await service.seats.release('dev-never', 'stale'), false);
    const held = await env.rpc.call(LicensingRpc.listSeats, {});
    assert.deepEqual(held.items.map((s) => s.deviceId), ['dev-b']);
    assert.equal(held.total, 1);
    const all = await env.rpc.call(LicensingRpc.listSeats, { includeReleased: true, limit: 1, offset: 0 });
    assert.equal(all.total, 2);
    assert.deepEqual(all.items.map((s) => [s.deviceId, s.releaseReason]), [['dev-a', 'retired']]);
    assert.ok(all.items[0]!.releasedAt);
    assert.equal((await env.rpc.call(LicensingRpc.getLicense, {})).used, 1);

    // A released device enrolled again takes its seat back.
    assert.equal((await service.seats.assign('dev-a')).newlyAssigned, true);
    assert.equal((await env.rpc.call(LicensingRpc.listSeats, {})).total, 2);
  });

  it('enrols atomically inside the caller transaction: a rollback takes the seat back, a refusal leaves the transaction usable', async () => {
    await assert.rejects(
      service.dataSource.transaction(async (manager) => {
        const seat = await service.seats.assign('dev-rolled-back', { manager });
        assert.equal(seat.newlyAssigned, true);
        throw new Error('the enrolment failed after the seat');
      }),
      /the enrolment failed/,
    );
    assert.equal((await env.rpc.call(LicensingRpc.getLicense, {})).used, 2, 'the seat went with the rollback');

    await service.dataSource.transaction(async (manager) => {
      await service.seats.assign('dev-c', { manager });
      const refused = await codeOf(service.seats.assign('dev-d', { manager }));
      assert.equal(refused.code, ErrorCode.NoSeatAvailable);
      // The refusal rolled back to its savepoint: the caller's transaction goes on and commits.
      await manager.query('SELECT 1');
    });
    assert.deepEqual((await env.rpc.call(LicensingRpc.listSeats, {})).items.map((s) => s.deviceId), ['dev-a', 'dev-b', 'dev-c']);
  });

  it('refuses a seat beyond those bought, saying what is bought and used, counts it and announces nothing', async () => {
    const refusalsBefore = await metricSum(service.httpUrl, 'fleetcast_license_seat_refusals_total', { code: ErrorCode.NoSeatAvailable });
    const refused = await codeOf(service.seats.assign('dev-e'));
    assert.equal(refused.code, ErrorCode.NoSeatAvailable);
    assert.match(refused.message, /^no seat available for device dev-e: license lic-[\w-]+ of Example Corp has 3 seats and 3 are in use; release the seats of retired devices or install a license with more seats/);
    assert.equal(await metricSum(service.httpUrl, 'fleetcast_license_seat_refusals_total', { code: ErrorCode.NoSeatAvailable }), refusalsBefore + 1);
    const status = await env.rpc.call(LicensingRpc.getLicense, {});
    assert.deepEqual([status.used, status.over, status.graceUntil], [3, 0, null]);
    assert.deepEqual(await publishedEvents(env, LicenseOverage.subject()), []);
    assert.equal(await metricSum(service.httpUrl, 'fleetcast_license_seats', { kind: 'used' }), 3);
    assert.equal(await metricSum(service.httpUrl, 'fleetcast_license_seats', { kind: 'bought' }), 3);
  });

  it('keeps the seats when a smaller license replaces the active one, and announces that overage once', async () => {
    const smaller = issuer.issue({ seats: 2, customer: 'Example Corp' });
    const status = await env.rpc.call(LicensingRpc.installLicense, { key: smaller.key });
    assert.deepEqual([status.licenseId, status.seats, status.used, status.over, status.graceUntil], [smaller.license.licenseId, 2, 3, 1, null]);
    const events = await publishedEvents<LicenseOverageV1>(env, LicenseOverage.subject());
    assert.equal(events.length, 1);
    assert.deepEqual({ ...events[0]!, occurredAt: undefined }, {
      licenseId: smaller.license.licenseId,
      customer: 'Example Corp',
      seats: 2,
      used: 3,
      over: 1,
      policy: 'refuse',
      deviceId: null,
      graceUntil: null,
      occurredAt: undefined,
    });
    assert.equal((await codeOf(service.seats.assign('dev-f'))).code, ErrorCode.NoSeatAvailable);
    assert.equal((await env.db.query('SELECT count(*)::int AS n FROM licensing.licenses')).rows[0].n, 2, 'the earlier license stays in the history');
  });

  it('releases the seats of devices the inventory has not seen for SEAT_STALE_AFTER_DAYS, and only those', async () => {
    // Seats given 40 days ago, as a long-enrolled fleet has them.
    await env.db.query(`UPDATE licensing.seats SET assigned_at = now() - interval '40 days' WHERE device_id IN ('dev-a', 'dev-b')`);
    const sc = StringCodec();
    const device = (id: string, lastSeenDaysAgo: number): Device => ({
      id,
      hostname: id,
      platform: 'linux',
      osVersion: '12',
      agentVersion: '0.1.0',
      interfaces: [],
      subnets: [],
      cachedContentIds: [],
      cacheFreeBytes: 0,
      lastSeenAt: new Date(Date.now() - lastSeenDaysAgo * DAY_MS).toISOString(),
      stale: true,
    });
    const requests: unknown[] = [];
    // The inventory, standing in: dev-a last scanned 35 days ago, dev-b 3 days ago (stale to the
    // inventory, not to licensing), dev-c 45 days ago but its seat is new (enrolled again).
    const inventory: Subscription = env.nc.subscribe(InventoryRpc.listDevices.subject, {
      callback: (error, msg) => {
        if (error) return;
        const request = JSON.parse(sc.decode(msg.data)) as { offset: number };
        requests.push(request);
        const items = request.offset === 0 ? [device('dev-a', 35), device('dev-b', 3), device('dev-c', 45), device('dev-gone', 90)] : [];
        msg.respond(sc.encode(JSON.stringify({ ok: true, data: { items, total: 4 } } satisfies RpcReply)));
      },
    });
    await env.nc.flush();
    try {
      await waitFor(
        async () => {
          const all = await env.rpc.call(LicensingRpc.listSeats, { includeReleased: true });
          return all.items.find((s) => s.deviceId === 'dev-a')?.releaseReason === 'stale';
        },
        { description: 'the seat of dev-a to be released as stale' },
      );
    } finally {
      inventory.unsubscribe();
    }
    assert.deepEqual(requests[0], { stale: true, limit: 1000, offset: 0 });
    assert.deepEqual((await env.rpc.call(LicensingRpc.listSeats, {})).items.map((s) => s.deviceId), ['dev-b', 'dev-c']);
    assert.equal(await metricSum(service.httpUrl, 'fleetcast_license_seats_released_total', { reason: 'stale' }), 1);
    // Back at 2 of 2: the overage of the smaller license is over.
    const status = await env.rpc.call(LicensingRpc.getLicense, {});
    assert.deepEqual([status.used, status.over], [2, 0]);
  });
});

describe('licensing: over-allocation under the allow policy', { timeout: SUITE_TIMEOUT_MS }, () => {
  const cleanup = new CleanupStack();
  const issuer = new TestIssuer();
  let env: Environment;
  let service: RunningLicensing;

  before(async () => {
    env = await startEnvironment(cleanup, 'licensing_allow');
    service = await startInProcess({
      NATS_URL: env.natsUrl,
      NATS_CREDS_FILE: env.natsCreds,
      DATABASE_URL: env.databaseUrl,
      LICENSE_PUBLIC_KEY: issuer.publicKey,
      LICENSE_OVERAGE_POLICY: 'allow',
      LICENSE_OVERAGE_GRACE_DAYS: '30',
    });
    cleanup.push(() => service.app.close());
  });
  after(() => cleanup.run());

  it('gives seats beyond those bought during the grace period and announces the crossing exactly once', async () => {
    const { license, key } = issuer.issue({ seats: 2 });
    await env.rpc.call(LicensingRpc.installLicense, { key });
    await service.seats.assign('a-1');
    const last = await service.seats.assign('a-2');
    assert.equal(last.overLimit, false);
    const crossing = await service.seats.assign('a-3');
    assert.deepEqual([crossing.newlyAssigned, crossing.used, crossing.seats, crossing.overLimit], [true, 3, 2, true]);
    await service.seats.assign('a-4');
    await service.seats.assign('a-3');

    const status = await env.rpc.call(LicensingRpc.getLicense, {});
    assert.deepEqual([status.policy, status.seats, status.used, status.over], ['allow', 2, 4, 2]);
    const graceLeft = Date.parse(status.graceUntil!) - Date.now();
    assert.ok(graceLeft > 29.9 * DAY_MS && graceLeft <= 30 * DAY_MS, `graceUntil ${status.graceUntil} is 30 days after the crossing`);

    const events = await publishedEvents<LicenseOverageV1>(env, LicenseOverage.subject());
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(LicenseOverage.schema.safeParse(events[0]).success, true);
    assert.deepEqual([events[0]!.licenseId, events[0]!.deviceId, events[0]!.used, events[0]!.over, events[0]!.policy], [license.licenseId, 'a-3', 3, 1, 'allow']);
    assert.equal(events[0]!.graceUntil, status.graceUntil);
    assert.equal(await metricSum(service.httpUrl, 'fleetcast_license_overages_total'), 1);
    assert.equal(await metricSum(service.httpUrl, 'fleetcast_license_seats', { kind: 'over' }), 2);
  });

  it('refuses further over-allocation once the grace period has ended', async () => {
    await env.db.query(`UPDATE licensing.allocation SET overage_since = now() - interval '31 days'`);
    const refused = await codeOf(service.seats.assign('a-5'));
    assert.equal(refused.code, ErrorCode.NoSeatAvailable);
    assert.match(refused.message, /has 2 seats and 4 are in use, over the limit since .* 30-day grace period for over-allocation ended at/);
    assert.equal((await service.seats.assign('a-1')).newlyAssigned, false, 'devices holding seats keep them');
  });

  it('ends the overage when seats fall back within the limit, and announces the next crossing anew', async () => {
    await service.seats.release('a-4', 'retired');
    await service.seats.release('a-3', 'retired');
    const within = await env.rpc.call(LicensingRpc.getLicense, {});
    assert.deepEqual([within.used, within.over, within.graceUntil], [2, 0, null]);
    const again = await service.seats.assign('a-6');
    assert.equal(again.overLimit, true, 'a new crossing starts a new grace period');
    const events = await publishedEvents<LicenseOverageV1>(env, LicenseOverage.subject());
    assert.deepEqual(events.map((e) => e.deviceId), ['a-3', 'a-6']);
  });
});

describe('licensing: expiry', { timeout: SUITE_TIMEOUT_MS }, () => {
  const cleanup = new CleanupStack();
  const issuer = new TestIssuer();
  let env: Environment;
  let service: RunningLicensing;
  const deployed = issuer.issue({ seats: 5, expiresInMs: 10 * DAY_MS });
  const start = () =>
    startInProcess({
      NATS_URL: env.natsUrl,
      NATS_CREDS_FILE: env.natsCreds,
      DATABASE_URL: env.databaseUrl,
      LICENSE_PUBLIC_KEY: issuer.publicKey,
      LICENSE_KEY: deployed.key,
      LICENSE_EXPIRING_DAYS: '30,7',
      LICENSE_CHECK_INTERVAL_MS: FAST_INTERVAL_MS,
    });

  before(async () => {
    env = await startEnvironment(cleanup, 'licensing_expiry');
    service = await start();
  });
  after(async () => {
    await service.app.close();
    await cleanup.run();
  });

  it('installs LICENSE_KEY at start and announces its expiry once per license and threshold', async () => {
    const status = await env.rpc.call(LicensingRpc.getLicense, {});
    assert.deepEqual([status.licenseId, status.state, status.seats], [deployed.license.licenseId, 'expiring', 5]);
    const checks = await metricSum(service.httpUrl, 'fleetcast_license_checks_total');
    // Several more checks, every one of which could announce again.
    await waitFor(async () => (await metricSum(service.httpUrl, 'fleetcast_license_checks_total')) >= checks + 3, { description: 'three more license checks' });
    const events = await publishedEvents<LicenseExpiringV1>(env, LicenseExpiring.subject());
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.deepEqual([events[0]!.licenseId, events[0]!.thresholdDays, events[0]!.daysLeft, events[0]!.expiresAt], [deployed.license.licenseId, 30, 9, deployed.license.expiresAt]);
    const expiry = await metricSum(service.httpUrl, 'fleetcast_license_expiry_timestamp_seconds');
    assert.equal(expiry, Date.parse(deployed.license.expiresAt) / 1000);
  });

  it('after expiry: enrolled devices keep their seats, new ones are refused, the license can be renewed', async () => {
    await service.seats.assign('e-1');
    const shortLived = issuer.issue({ seats: 5, expiresInMs: 3000 });
    await env.rpc.call(LicensingRpc.installLicense, { key: shortLived.key });
    await service.seats.assign('e-2');
    await waitFor(async () => (await env.rpc.call(LicensingRpc.getLicense, {})).state === 'expired', { timeoutMs: 15_000, description: 'the license to expire' });

    const refused = await codeOf(service.seats.assign('e-3'));
    assert.equal(refused.code, ErrorCode.LicenseExpired);
    assert.match(refused.message, /expired at .*enrolled devices keep their seats, new devices need a renewed license/);
    const kept = await service.seats.assign('e-1');
    assert.equal(kept.newlyAssigned, false, 'an enrolled device enrolled again keeps its seat');
    assert.deepEqual((await env.rpc.call(LicensingRpc.listSeats, {})).items.map((s) => s.deviceId), ['e-1', 'e-2']);
    assert.equal(await service.seats.release('e-2', 'retired'), true, 'seats are still given back');
    const expired = await env.rpc.call(LicensingRpc.getLicense, {});
    assert.deepEqual([expired.state, expired.licenseId, expired.used], ['expired', shortLived.license.licenseId, 1]);
    // The short-lived license had 3 s left when installed, within both thresholds at once: only the
    // closest (7 days) was announced, once.
    const notices = await publishedEvents<LicenseExpiringV1>(env, LicenseExpiring.subject());
    assert.deepEqual(notices.map((n) => [n.licenseId, n.thresholdDays]), [[deployed.license.licenseId, 30], [shortLived.license.licenseId, 7]]);

    const renewed = issuer.issue({ seats: 5 });
    assert.equal((await env.rpc.call(LicensingRpc.installLicense, { key: renewed.key })).state, 'valid');
    assert.equal((await service.seats.assign('e-3')).newlyAssigned, true);
  });

  it('does not let LICENSE_KEY undo a newer license at a restart', async () => {
    const before = await env.rpc.call(LicensingRpc.getLicense, {});
    await service.app.close();
    service = await start();
    const after = await env.rpc.call(LicensingRpc.getLicense, {});
    assert.equal(after.licenseId, before.licenseId);
    assert.equal(after.installedAt, before.installedAt);
  });
});
