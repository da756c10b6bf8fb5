import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  createLab,
  createTestDatabase,
  destroyLab,
  destroyStaleLabs,
  labAvailable,
  labNameForThisProcess,
  listLabResources,
  runLabDistribution,
  startLabStack,
  stopAll,
  type Lab,
  type LabAvailability,
  type LabReport,
  type LabSpec,
  type LabStack,
  type TestDatabase,
} from '@fleetcast/testing';

/**
 * The baseline the multicast will be measured against, on a real network: two branch subnets of
 * three devices behind 50 Mbit/s WAN links, the control plane on the host, one agent per device.
 * Today every device downloads from the origin, so each branch's WAN carries the package once per
 * device; the origin's own count and the WAN link counters must say the same.
 */
const MIB = 1024 * 1024;
const PACKAGE_BYTES = 8 * MIB;
const DEVICES_PER_BRANCH = 3;
const WAN_RATE_MBIT = 50;
/**
 * The origin counts body bytes; the link counts Ethernet frames (TCP/IP headers, acknowledgement
 * and NATS traffic on top): 66 header bytes per 1448-byte segment, about 4.6 %. 10 % is the agreement asked of the lab.
 */
const WAN_AGREEMENT = 0.1;
/** Every device downloads the package whole, once; a retried range could add a little, never a whole copy. */
const MAX_EXTRA_ORIGIN_RATIO = 0.05;
/** Carries this process's pid, so that concurrent runs keep apart and a dead run's lab is recognised. */
const LAB_TAG = 'lb';
const LAB_NAME = labNameForThisProcess(LAB_TAG);
/** Apart from the netlab tests' 10.209/10.210 ranges: both labs join the host, which cannot route one range twice. */
const spec: LabSpec = {
  name: LAB_NAME,
  core: { subnet: '10.211.0.0/24' },
  branches: [
    { name: 'east', subnet: '10.212.1.0/24', devices: DEVICES_PER_BRANCH, wan: { rateMbit: WAN_RATE_MBIT } },
    { name: 'west', subnet: '10.212.2.0/24', devices: DEVICES_PER_BRANCH, wan: { rateMbit: WAN_RATE_MBIT } },
  ],
};

let availability: LabAvailability = { ok: false, reason: 'not checked yet' };
let db: TestDatabase | undefined;
let work = '';
let lab: Lab | undefined;
let stack: LabStack | undefined;
let report: LabReport | undefined;

function skipUnlessLab(t: TestContext): boolean {
  if (availability.ok) return false;
  t.skip(`network lab unavailable here, so the lab baseline is not run: ${availability.reason}`);
  return true;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

describe('lab baseline: every device downloads from the origin across its shaped WAN link', () => {
  before(async () => {
    availability = await labAvailable();
    if (!availability.ok) return;
    // A run killed outright leaves its lab, whose host address would block these ranges.
    const stale = await destroyStaleLabs(LAB_TAG);
    if (stale.length > 0) console.log(`removed labs of dead runs: ${stale.join(', ')}`);
    db = await createTestDatabase('lab_baseline');
    work = await mkdtemp(join(tmpdir(), 'fleetcast-lab-'));
    lab = await createLab(spec);
    stack = await startLabStack({ lab, databaseUrl: db.url, apiToken: randomBytes(16).toString('hex'), workDir: work });
  });

  after(async () => {
    await stack?.stop();
    await stopAll();
    await lab?.destroy();
    await db?.drop();
    // FLEETCAST_KEEP_TEST_FILES=1 keeps every agent's log, state and cache for a post-mortem.
    if (work && !process.env.FLEETCAST_KEEP_TEST_FILES) await rm(work, { recursive: true, force: true });
    else if (work) console.log(`kept ${work}`);
  });

  test('cache-only, 8 MiB to 2 x 3 devices: verified copies everywhere, 3 WAN copies per subnet, counters agree', { timeout: 90_000 }, async (t) => {
    if (skipUnlessLab(t) || !stack) return;
    report = await runLabDistribution({ stack, lab: stack.lab, packageBytes: PACKAGE_BYTES, action: 'cache-only', print: (line) => t.diagnostic(line) });

    for (const device of report.devices) assert.equal(device.state, 'succeeded', `${device.deviceId}: ${device.reason ?? device.state}`);
    // The verified copy, read where the agent keeps it (the namespaces share this machine's files).
    for (const agent of stack.agents) {
      assert.equal(await sha256Of(join(agent.cacheDir, 'content', report.contentId)), report.contentId, `${agent.deviceId}'s cached copy`);
    }
    assert.equal(report.totals.originBytesElsewhere, 0, 'every download named its lab subnet');
    for (const subnet of report.subnets) {
      assert.equal(subnet.done, DEVICES_PER_BRANCH);
      assert.ok(
        subnet.originRatio >= DEVICES_PER_BRANCH && subnet.originRatio <= DEVICES_PER_BRANCH + MAX_EXTRA_ORIGIN_RATIO,
        `${subnet.subnet}: the origin served ${subnet.originRatio.toFixed(3)}x the package; each of the ${DEVICES_PER_BRANCH} devices downloads it once today`,
      );
      assert.ok(
        Math.abs(subnet.wanOverOrigin - 1) <= WAN_AGREEMENT,
        `${subnet.subnet}: WAN link ${subnet.wanBytes} B vs origin ${subnet.originBytes} B (${subnet.wanOverOrigin.toFixed(3)}x)`,
      );
    }
  });

  test('teardown: the stack stops and no namespace, link or route of the lab is left', { timeout: 30_000 }, async (t) => {
    if (skipUnlessLab(t) || !lab) return;
    const host = lab.host;
    await stack?.stop();
    await lab.destroy();
    assert.deepEqual(await listLabResources(LAB_NAME), { namespaces: [], links: [], nftTables: [] });
    const { stdout: netns } = await promisify(execFile)('ip', ['netns', 'list']);
    assert.ok(!netns.includes(`${LAB_NAME}-`), netns);
    const { stdout: routes } = await promisify(execFile)('ip', ['-4', 'route', 'show', 'table', 'all']);
    for (const route of host?.routes ?? []) assert.ok(!routes.includes(route.subnet), `route to ${route.subnet} left:\n${routes}`);
    // Idempotent: the after hook's destroy finds nothing to do.
    await destroyLab(LAB_NAME);
  });
});
