import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLabDistribution, waitFor, type LabSpec } from '@fleetcast/testing';
import { agentLogLines, assertVerifiedCopies, useLabFixture } from './support/lab-fixture';

/**
 * A subnet whose LAN drops every UDP datagram (as a switch that blocks multicast does; NATS, the
 * origin and the peers' block servers are TCP and still work): the devices cannot hear each other,
 * so each one ends up its own representative, nobody joins its session, and the two online devices
 * download from the origin. The task must still complete everywhere, and the summary must say why
 * the LAN did not help. A third device comes online once they are done: it hears nobody either,
 * asks the peers the control plane names in its session, and takes the package from them.
 */
const MIB = 1024 * 1024;
const PACKAGE_BYTES = 4 * MIB;
const DEVICES = 3;
const PROFILE = { useMulticast: true, sessionStartDelaySeconds: 2 };
/** Election (3 s), start delay, the three keep-alives of grace, 2 x 4 MiB through 20 Mbit/s (4 s), then the late device. */
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

  test('the online devices fall back to the origin and report LAN.NOBODY_JOINED; a device that comes later takes the package from the peers the control plane names', { timeout: 90_000 }, async (t) => {
    const stack = fixture.stackFor(t);
    if (!stack) return;
    const late = stack.agents[stack.agents.length - 1]!;
    await late.process.stop();
    const run = await startLabDistribution({ stack, packageBytes: PACKAGE_BYTES, action: 'cache-only', profile: PROFILE, timeoutMs: TASK_TIMEOUT_MS, print: (line) => t.diagnostic(line) });
    const early = stack.agents.filter((a) => a !== late);
    await waitFor(
      async () => {
        const { items } = await stack.api.ok<{ items: Array<{ deviceId: string; state: string }> }>('GET', `/v1/tasks/${run.taskId}/devices?limit=100`);
        return early.every((a) => items.find((d) => d.deviceId === a.deviceId)?.state === 'succeeded');
      },
      { timeoutMs: TASK_TIMEOUT_MS, intervalMs: 250, description: 'the online devices to complete' },
    );
    await stack.startAgent(late.deviceId);
    const report = await run.finish();
    for (const device of report.devices) assert.equal(device.state, 'succeeded', `${device.deviceId}: ${device.reason ?? device.state}`);
    await assertVerifiedCopies(stack.agents, report.contentId);
    for (const device of report.devices) {
      t.diagnostic(`${device.deviceId}: origin ${device.bytes.origin} B (origin's count ${device.originServed} B), peer ${device.bytes.peer} B, multicast ${device.bytes.multicast} B`);
      assert.equal(device.bytes.multicast, 0);
      if (device.deviceId === late.deviceId) {
        assert.equal(device.originServed, 0, 'the origin served the late device nothing');
        assert.equal(device.bytes.peer, PACKAGE_BYTES, 'the late device took the package from its peers');
      } else {
        assert.equal(device.bytes.origin, PACKAGE_BYTES, `${device.deviceId} downloaded the package from the origin`);
      }
    }

    const summary = await stack.api.ok<{ subnets: Array<{ subnet: string; lan?: { issues?: Array<{ code: string; message: string; devices: number }> } }> }>(
      'GET',
      `/v1/tasks/${report.taskId}/summary`,
    );
    const issues = summary.subnets.find((s) => s.subnet === stack.lab.branches[0]!.subnet)?.lan?.issues ?? [];
    t.diagnostic(`summary issues: ${JSON.stringify(issues)}`);
    // All three said so, the late one too: its multicast reached nobody either.
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
