import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runLabDistribution, type LabSpec } from '@fleetcast/testing';
import { agentLogLines, assertVerifiedCopies, useLabFixture } from './support/lab-fixture';

/**
 * A subnet whose LAN drops every UDP datagram (as a switch that blocks multicast does; NATS and
 * the origin are TCP and still work): the devices cannot hear each other, so each one ends up its
 * own representative, nobody joins its session, and each downloads from the origin. The task must
 * still complete everywhere, and the summary must say why the LAN did not help.
 */
const MIB = 1024 * 1024;
const PACKAGE_BYTES = 4 * MIB;
const DEVICES = 3;
const PROFILE = { useMulticast: true, sessionStartDelaySeconds: 2 };
/** Election (3 s), start delay, the three keep-alives of grace, then 3 x 4 MiB through 20 Mbit/s (5 s). */
const TASK_TIMEOUT_MS = 60_000;

/** Apart from the other labs' ranges (10.209 to 10.218): each lab joins the host. */
const spec = (name: string): LabSpec => ({
  name,
  core: { subnet: '10.219.0.0/24' },
  branches: [{ name: 'south', subnet: '10.220.1.0/24', devices: DEVICES, wan: { rateMbit: 20 }, lanLossPercent: 100, lossProto: 'udp' }],
});

describe('lab: multicast blocked on a subnet', () => {
  const fixture = useLabFixture({
    tag: 'mb',
    database: 'lab_multicast_blocked',
    spec,
    untested: 'a subnet that blocks multicast is not tested on a real network',
    stack: { agentArgs: ['--multicast'] },
  });

  test('every device falls back to the origin, completes, and reports LAN.NOBODY_JOINED; the summary counts them', { timeout: 90_000 }, async (t) => {
    const stack = fixture.stackFor(t);
    if (!stack) return;
    const report = await runLabDistribution({ stack, packageBytes: PACKAGE_BYTES, action: 'cache-only', profile: PROFILE, timeoutMs: TASK_TIMEOUT_MS, print: (line) => t.diagnostic(line) });
    for (const device of report.devices) assert.equal(device.state, 'succeeded', `${device.deviceId}: ${device.reason ?? device.state}`);
    await assertVerifiedCopies(stack.agents, report.contentId);
    for (const device of report.devices) {
      assert.equal(device.bytes.origin, PACKAGE_BYTES, `${device.deviceId} downloaded the package from the origin`);
      assert.equal(device.bytes.multicast, 0);
    }

    const summary = await stack.api.ok<{ subnets: Array<{ subnet: string; lan?: { issues?: Array<{ code: string; message: string; devices: number }> } }> }>(
      'GET',
      `/v1/tasks/${report.taskId}/summary`,
    );
    const issues = summary.subnets.find((s) => s.subnet === stack.lab.branches[0]!.subnet)?.lan?.issues ?? [];
    t.diagnostic(`summary issues: ${JSON.stringify(issues)}`);
    assert.deepEqual(
      issues.map(({ code, devices }) => ({ code, devices })),
      [{ code: 'LAN.NOBODY_JOINED', devices: DEVICES }],
    );
    assert.match(issues[0]!.message, /multicast may be blocked on this subnet/);
    // And each agent's log says it, for whoever reads the device.
    for (const agent of stack.agents) {
      const warned = await agentLogLines(agent.logFile, issues[0]!.message, report.taskId);
      assert.equal(warned.length, 1, `${agent.deviceId} logged the issue once`);
    }
  });

  fixture.teardownTest();
});
