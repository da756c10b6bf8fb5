import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runLabDistribution, type LabReport, type LabSpec } from '@fleetcast/testing';
import { assertVerifiedCopies, rolesLogged, useLabFixture } from './support/lab-fixture';

/**
 * Subnet multicast on a real network: two branch subnets of five devices behind 20 Mbit/s WAN
 * links, 3 % of UDP dropped at every device's LAN ingress, agents started with `--multicast`, a
 * cache-only task whose profile asks for multicast with a 3 s session start delay. The package
 * must cross each branch's WAN once: the origin's own count and the WAN link counters say so.
 */
const MIB = 1024 * 1024;
/** The 20 MB package, in MiB as the report prints it. */
const PACKAGE_BYTES = 20 * MIB;
const DEVICES_PER_BRANCH = 5;
const WAN_RATE_MBIT = 20;
const LAN_LOSS_PERCENT = 3;
/** The representative's download alone, plus a retried range at most. */
const MAX_ORIGIN_RATIO = 1.02;
/** One copy in Ethernet frames: 66 header bytes per 1448-byte TCP segment (4.6 %), plus NATS control traffic of ten agents. */
const MAX_WAN_RATIO = 1.08;
const PROFILE = { useMulticast: true, sessionStartDelaySeconds: 3 };
/** 20 MB at 20 Mbit/s is 8 s of WAN; the start delay, repairs and a loaded 2-core machine stay well inside this. */
const TASK_TIMEOUT_MS = 75_000;
/** Apart from the netlab tests' (10.209/10.210) and the lab baseline's (10.211/10.212) ranges: each lab joins the host. */
const spec = (name: string): LabSpec => ({
  name,
  core: { subnet: '10.213.0.0/24' },
  branches: ['east', 'west'].map((name, i) => ({
    name,
    subnet: `10.214.${i + 1}.0/24`,
    devices: DEVICES_PER_BRANCH,
    wan: { rateMbit: WAN_RATE_MBIT },
    lanLossPercent: LAN_LOSS_PERCENT,
    lossProto: 'udp' as const,
  })),
});

describe('lab multicast: one WAN copy per subnet, the rest over the LAN', () => {
  const fixture = useLabFixture({ tag: 'lm', database: 'lab_multicast', spec, untested: 'multicast is not tested on a real network', stack: { agentArgs: ['--multicast'] } });

  test('cache-only, 20 MB to 2 x 5 devices at 3 % LAN loss: verified copies, one representative per subnet, origin and WAN about 1x', { timeout: 110_000 }, async (t) => {
    const stack = fixture.stackFor(t);
    if (!stack) return;
    const report: LabReport = await runLabDistribution({
      stack,
      lab: stack.lab,
      packageBytes: PACKAGE_BYTES,
      action: 'cache-only',
      profile: PROFILE,
      timeoutMs: TASK_TIMEOUT_MS,
      print: (line) => t.diagnostic(line),
    });

    // Every device: a verified copy, read where its agent keeps it.
    for (const device of report.devices) assert.equal(device.state, 'succeeded', `${device.deviceId}: ${device.reason ?? device.state}`);
    await assertVerifiedCopies(stack.agents, report.contentId);
    assert.equal(report.totals.originBytesElsewhere, 0, 'every download named its lab subnet');

    // Exactly one representative per subnet: by the summary, the origin rows and the agents' own logs.
    for (const subnet of report.subnets) {
      const mine = report.devices.filter((d) => d.branch === subnet.branch);
      const representative = subnet.lan?.representative ?? null;
      assert.ok(representative !== null && mine.some((d) => d.deviceId === representative), `${subnet.subnet}: representative ${representative}`);
      const fromOrigin = mine.filter((d) => d.bytes.origin > 0).map((d) => d.deviceId);
      assert.deepEqual(fromOrigin, [representative], `${subnet.subnet}: devices that downloaded from the origin`);
      const agents = stack.agents.filter((a) => a.branch === subnet.branch);
      const roles: Array<[string, string[]]> = await Promise.all(agents.map(async (a): Promise<[string, string[]]> => [a.deviceId, await rolesLogged(a.logFile, report.taskId)]));
      assert.deepEqual(
        roles.filter(([, r]) => r.includes('representative')).map(([id]) => id),
        [representative],
        `${subnet.subnet}: roles logged ${JSON.stringify(roles)}`,
      );
    }

    // The bounds; if one is missed the report above says by how much and where the bytes went.
    for (const subnet of report.subnets) {
      assert.equal(subnet.done, DEVICES_PER_BRANCH);
      assert.ok(subnet.originRatio <= MAX_ORIGIN_RATIO, `${subnet.subnet}: the origin served ${subnet.originRatio.toFixed(4)}x the package, at most ${MAX_ORIGIN_RATIO}x`);
      assert.ok(subnet.wanRatio <= MAX_WAN_RATIO, `${subnet.subnet}: the WAN link carried ${subnet.wanRatio.toFixed(4)}x the package toward the branch, at most ${MAX_WAN_RATIO}x`);
    }
  });

  fixture.teardownTest();
});
