import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AckPolicy, connect, DeliverPolicy, NatsConnection } from 'nats';
import { DeviceStatusReported, DeviceStatusV1, InventoryScanSubmitted, InventoryScanV1, Streams } from '@fleetcast/contracts';
import { ensureStreams } from '@fleetcast/nats';
import { createLogger } from '@fleetcast/telemetry';
import { NatsServer, provisionDeviceCreds, startNatsServer, stopAll } from '@fleetcast/testing';
import { NatsLink, SPOOL_CORRUPT_DIR } from '../src/adapters/nats-link';
import { tempDir } from './support/content-fixture';
import { waitFor } from './support/wait-for';

/**
 * The agent's report spool against a real NATS server (operator mode, the device's own
 * credentials). While the status and scan streams do not exist, every publish fails and messages
 * pile up in the spool, as in an outage: the spool keeps within its limits by the documented rules.
 * Then corrupt files are planted in front of good ones: the link sets them aside and publishes the rest.
 */
const DEVICE = 'spool-dev-1';
const MAX_FILES = 6;

let nats: NatsServer;
let nc: NatsConnection;
let work: string;
let removeWork: () => Promise<void>;
let creds: string;
const dropped: Record<string, number> = {};

const stateDir = () => join(work, 'state');
const spoolFiles = async () => (await readdir(join(stateDir(), 'spool'))).filter((f) => f.endsWith('.json')).sort();

function link(): NatsLink {
  return new NatsLink({
    servers: nats.url,
    auth: { credsFile: creds },
    deviceId: DEVICE,
    stateDir: stateDir(),
    logger: createLogger('agent', 'silent'),
    onAssignment: () => undefined,
    onSettingsChanged: () => undefined,
    spoolLimits: { maxFiles: MAX_FILES, maxBytes: 1024 * 1024 },
    onSpoolDropped: (reason, count) => {
      dropped[reason] = (dropped[reason] ?? 0) + count;
    },
  });
}

let seq = 0;
const report = (taskId: string, state: DeviceStatusV1['state']): DeviceStatusV1 => ({
  taskId,
  deviceId: DEVICE,
  seq: ++seq,
  state,
  reportedAt: new Date().toISOString(),
  bytes: { origin: seq, parent: 0, multicast: 0, peer: 0 },
  reason: state === 'failed' ? { code: 'DOWNLOAD.EXHAUSTED', message: 'gave up' } : null,
  hashVerified: state === 'succeeded',
  exitCode: null,
  outputTail: null,
});
const scan = (scanSeq: number): InventoryScanV1 => ({
  deviceId: DEVICE,
  scanSeq,
  scannedAt: new Date().toISOString(),
  hostname: 'spool-host',
  platform: 'linux',
  osVersion: 'test',
  agentVersion: '0.1.0',
  interfaces: [],
  cache: { contentIds: [], freeBytes: 0 },
});

/** Every message of a stream (the device's subjects), in order, decoded. */
async function streamMessages(stream: string): Promise<Array<{ subject: string; body: any }>> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.consumers.add(stream, { ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 10e9 });
  const consumer = await nc.jetstream().consumers.get(stream, info.name);
  const out: Array<{ subject: string; body: any }> = [];
  if (info.num_pending > 0) for await (const m of await consumer.fetch({ max_messages: info.num_pending, expires: 5000 })) out.push({ subject: m.subject, body: JSON.parse(Buffer.from(m.data).toString()) });
  await jsm.consumers.delete(stream, info.name);
  return out;
}

describe('the report spool: bounded in an outage, corrupt files set aside (real NATS)', () => {
  before(async () => {
    nats = await startNatsServer();
    nc = await connect(nats.adminConnectOptions());
    // Only the assignment stream (the link replays it at start): reports and scans cannot be published yet.
    await ensureStreams(nc, [Streams.taskAssignments]);
    ({ dir: work, remove: removeWork } = await tempDir('report-spool'));
    creds = await provisionDeviceCreds(nats.trust!.dir, DEVICE, join(work, 'creds'));
  });

  after(async () => {
    await nc?.close();
    await stopAll();
    await removeWork?.();
  });

  test('over its limit the spool drops superseded reports and scans first, then the oldest progress reports, never a final report', async () => {
    const l = link();
    await l.start();
    try {
      // An outage's worth of traffic: three tasks' reports and scans.
      await l.publishStatus(report('t1', 'queued')); // 1
      await l.publishStatus(report('t2', 'queued')); // 2
      await l.publishStatus(report('t1', 'downloading')); // 3
      await l.publishStatus(report('t2', 'downloading')); // 4
      await l.publishScan(scan(1)); // 5
      await l.publishStatus(report('t1', 'downloading')); // 6
      await l.publishStatus(report('t1', 'succeeded')); // 7
      await l.publishScan(scan(2)); // 8
      await l.publishStatus(report('t3', 'queued')); // 9
      await l.publishStatus(report('t2', 'failed')); // 10
      await l.publishStatus(report('t3', 'downloading')); // 11
      await l.publishScan(scan(3)); // 12
      // Only what nothing newer supersedes is left: the finals of t1 and t2, t3's two newest reports... and the newest scan.
      assert.deepEqual(
        (await spoolFiles()).map((f) => f.replace(/^0+/, '')),
        ['7-final-t1.json', '8-scan.json', '9-report-t3.json', '10-final-t2.json', '11-report-t3.json', '12-scan.json'],
      );
      assert.deepEqual(dropped, { superseded: 6 });

      // Five more tasks end: superseded first (scan 8, t3's queued), then the newest progress report
      // and scan go as "full", and the finals are kept even over the limit.
      for (const t of ['t4', 't5', 't6', 't7', 't8']) await l.publishStatus(report(t, t === 't8' ? 'failed' : 'succeeded'));
      const files = await spoolFiles();
      assert.deepEqual(files.map((f) => f.replace(/^0+/, '')), ['7-final-t1.json', '10-final-t2.json', '13-final-t4.json', '14-final-t5.json', '15-final-t6.json', '16-final-t7.json', '17-final-t8.json']);
      assert.ok(files.length > MAX_FILES, 'over the limit with finals only');
      assert.deepEqual(dropped, { superseded: 8, full: 2 });
      assert.equal(await l.spooled(), 7);
    } finally {
      await l.close();
    }
  });

  test('corrupt and oversized files are moved aside to spool-corrupt/ and the files behind them are published', async () => {
    const spool = join(stateDir(), 'spool');
    // In front of the seven finals: a truncated report, a file that is not JSON, JSON that is no
    // message, and a message over the server's payload limit.
    await writeFile(join(spool, '000000000001-report-tbad.json'), JSON.stringify({ subject: DeviceStatusReported.subject(DEVICE), payload: report('tbad', 'queued'), msgId: 'x' }).slice(0, 60));
    await writeFile(join(spool, '000000000002-other.json'), '\u0000\u0001 not json at all');
    await writeFile(join(spool, '000000000003-other.json'), JSON.stringify({ hello: 'world' }));
    await writeFile(join(spool, '000000000004-scan.json'), JSON.stringify({ subject: InventoryScanSubmitted.subject(DEVICE), payload: { pad: 'x'.repeat(2 * 1024 * 1024) }, msgId: 'huge', headers: {} }));
    // The streams exist now: the next link's start flushes the spool.
    await ensureStreams(nc, [Streams.deviceStatus, Streams.inventoryScans]);
    const l = link();
    await l.start();
    try {
      await waitFor(async () => (await spoolFiles()).length === 0, 'the spool flushed', 15_000, 50);
      const aside = (await readdir(join(stateDir(), SPOOL_CORRUPT_DIR))).map((f) => f.replace(/^\d+-/, '')).sort();
      assert.deepEqual(aside, ['000000000001-report-tbad.json', '000000000002-other.json', '000000000003-other.json', '000000000004-scan.json']);
      assert.equal(dropped['corrupt'], 3);
      assert.equal(dropped['too-large'], 1);

      const reports = (await streamMessages(Streams.deviceStatus.name)).map((m) => m.body as DeviceStatusV1);
      assert.deepEqual(reports.map((r) => `${r.taskId}:${r.state}`), ['t1:succeeded', 't2:failed', 't4:succeeded', 't5:succeeded', 't6:succeeded', 't7:succeeded', 't8:failed']);
      // A new report goes straight through now.
      await l.publishStatus(report('t9', 'queued'));
      await waitFor(async () => (await streamMessages(Streams.deviceStatus.name)).some((m) => m.body.taskId === 't9'), 't9 published', 10_000, 50);
    } finally {
      await l.close();
    }
  });
});
