import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runLabDistribution, type LabSpec } from '@fleetcast/testing';
import { assertVerifiedCopies, useLabFixture } from './support/lab-fixture';

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
/** Apart from the netlab tests' 10.209/10.210 ranges: both labs join the host, which cannot route one range twice. */
const spec = (name: string): LabSpec => ({
  name,
  core: { subnet: '10.211.0.0/24' },
  branches: [
    { name: 'east', subnet: '10.212.1.0/24', devices: DEVICES_PER_BRANCH, wan: { rateMbit: WAN_RATE_MBIT } },
    { name: 'west', subnet: '10.212.2.0/24', devices: DEVICES_PER_BRANCH, wan: { rateMbit: WAN_RATE_MBIT } },
  ],
});

describe('lab baseline: every device downloads from the origin across its shaped WAN link', () => {
  // The baseline: agents that download from the origin whatever the task says.
  const fixture = useLabFixture({ tag: 'lb', database: 'lab_baseline', spec, untested: 'the lab baseline is not run', stack: { agentArgs: ['--no-multicast'] } });

  test('cache-only, 8 MiB to 2 x 3 devices: verified copies everywhere, 3 WAN copies per subnet, counters agree', { timeout: 90_000 }, async (t) => {
    const stack = fixture.stackFor(t);
    if (!stack) return;
    const report = await runLabDistribution({ stack, lab: stack.lab, packageBytes: PACKAGE_BYTES, action: 'cache-only', print: (line) => t.diagnostic(line) });

    for (const device of report.devices) assert.equal(device.state, 'succeeded', `${device.deviceId}: ${device.reason ?? device.state}`);
    await assertVerifiedCopies(stack.agents, report.contentId);
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

  fixture.teardownTest();
});
