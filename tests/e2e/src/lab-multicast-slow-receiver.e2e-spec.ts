import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { runLabDistribution, type LabReport, type LabSpec } from '@fleetcast/testing';
import { agentLogLines, assertVerifiedCopies, useLabFixture } from './support/lab-fixture';

/**
 * Congestion control and a slow receiver: one subnet of six devices on a fast WAN, so that the LAN
 * and not the WAN sets the pace. Two runs of the same task shape, each with its own package: one
 * with every LAN port at full speed, then one with a 20 Mbit/s token bucket on one receiver's
 * bridge port (a device on a slow link among fast ones). The rate controller must leave that
 * receiver out (it is far below the median rate), the receiver must declare itself behind and take
 * what it lacks from peers after the pass, and the fast devices must finish within 1.3x of their
 * time in the first run. Every device completes in both.
 */
const MIB = 1024 * 1024;
/** 32 MiB: over 13 s through the shaper, several seconds of pass for the fast ones, so the runs compare transfer and not start-up. */
const PACKAGE_BYTES = 32 * MIB;
const DEVICES = 6;
/** The WAN must not be what paces the pass (the sender follows its own download). */
const WAN_RATE_MBIT = 2_000;
const SLOW_PORT_MBIT = 20;
/** The issue's bound on the fast devices' time with the slow one against without. */
const MAX_FAST_RATIO = 1.3;
const PROFILE = { useMulticast: true, sessionStartDelaySeconds: 3 };
/** 32 MiB at 20 Mbit/s is 13.4 s through the shaper, after the start delay and a pass on a loaded 2-core machine. */
const TASK_TIMEOUT_MS = 90_000;
/** Apart from every other lab's ranges: each lab joins the host. */
const spec = (name: string): LabSpec => ({
  name,
  core: { subnet: '10.227.0.0/24' },
  branches: [{ name: 'office', subnet: '10.228.1.0/24', devices: DEVICES, wan: { rateMbit: WAN_RATE_MBIT } }],
});

/** The slowest of these devices, in seconds from task creation to done. */
function slowest(report: LabReport, deviceIds: readonly string[]): number {
  return Math.max(...report.devices.filter((d) => deviceIds.includes(d.deviceId)).map((d) => d.seconds ?? Infinity));
}

describe('lab multicast: a receiver behind a 20 Mbit/s port does not slow the others', () => {
  const fixture = useLabFixture({ tag: 'cs', database: 'lab_multicast_slow', spec, untested: 'congestion control is not tested on a real network', stack: { agentArgs: ['--multicast'] } });

  test('32 MiB to 6 devices, then again with one behind a 20 Mbit/s shaper: all complete, the fast ones within 1.3x', { timeout: 240_000 }, async (t) => {
    const stack = fixture.stackFor(t);
    if (!stack) return;
    const print = (line: string) => t.diagnostic(line);
    const distribute = (seed: string) => runLabDistribution({ stack, lab: stack.lab, packageBytes: PACKAGE_BYTES, action: 'cache-only', seed, profile: PROFILE, timeoutMs: TASK_TIMEOUT_MS, print });

    const clean = await distribute('congestion-clean');
    for (const device of clean.devices) assert.equal(device.state, 'succeeded', `clean run, ${device.deviceId}: ${device.reason ?? device.state}`);
    await assertVerifiedCopies(stack.agents, clean.contentId);
    const representative = clean.subnets[0]?.lan?.representative ?? null;
    assert.ok(representative !== null, 'the clean run had a representative');

    // Shape a receiver: the last device that was not the representative (the election ranks the same devices the same way).
    const agents = stack.agents;
    const slowAgent = [...agents].reverse().find((a) => a.deviceId !== representative);
    assert.ok(slowAgent !== undefined);
    // Device IDs read `<branch>-<device index>`.
    const slowIndex = Number(slowAgent.deviceId.split('-').pop());
    await stack.lab.shapeDeviceLan('office', slowIndex, SLOW_PORT_MBIT);
    let shaped: LabReport;
    let shaperDrops: number;
    try {
      shaped = await distribute('congestion-shaped');
    } finally {
      shaperDrops = await stack.lab.shapeDeviceLan('office', slowIndex, null);
    }
    for (const device of shaped.devices) assert.equal(device.state, 'succeeded', `shaped run, ${device.deviceId}: ${device.reason ?? device.state}`);
    await assertVerifiedCopies(stack.agents, shaped.contentId);
    assert.equal(shaped.subnets[0]?.lan?.representative, representative, 'the same representative both times, so the runs compare');

    const fast = agents.filter((a) => a !== slowAgent).map((a) => a.deviceId);
    const fastClean = slowest(clean, fast);
    const fastShaped = slowest(shaped, fast);
    const slowDevice = shaped.devices.find((d) => d.deviceId === slowAgent.deviceId);
    const behindLogged = (await readAgentLog(slowAgent.logFile, shaped.taskId)).some((l) => l.behind === true);
    const representativeLog = agents.find((a) => a.deviceId === representative)!.logFile;
    const closed = (await agentLogLines(representativeLog, 'multicast sender closed', shaped.taskId))[0];
    const closedClean = (await agentLogLines(representativeLog, 'multicast sender closed', clean.taskId))[0];
    print(
      `[measure] fast devices done ${fastClean.toFixed(1)} s without the shaped receiver, ${fastShaped.toFixed(1)} s with it (${(fastShaped / fastClean).toFixed(2)}x, at most ${MAX_FAST_RATIO}x); ` +
        `the shaped one ${slowDevice?.seconds?.toFixed(1)} s, ${((slowDevice?.bytes.multicast ?? 0) / MIB).toFixed(1)} MiB by multicast and ${((slowDevice?.bytes.peer ?? 0) / MIB).toFixed(1)} MiB from peers, behind ${behindLogged}, ${shaperDrops} drops at its shaper; ` +
        `sender rate ${JSON.stringify(closed?.rate ?? null)} (clean run ${JSON.stringify(closedClean?.rate ?? null)})`,
    );
    print(`[trace] shaped run, the sender's first rate changes: ${JSON.stringify(closed?.rateTrace ?? null)}`);
    assert.ok(fastShaped <= MAX_FAST_RATIO * fastClean, `the fast devices took ${fastShaped.toFixed(1)} s against ${fastClean.toFixed(1)} s without the slow receiver`);
    // The policy, as it played out: the shaped receiver left the pass and took the rest from peers.
    assert.ok(behindLogged, 'the shaped receiver declared itself behind');
    assert.ok((slowDevice?.bytes.peer ?? 0) > 0, 'the shaped receiver took what it lacked from peers');
    assert.ok(shaperDrops > 0, 'the shaper did drop: the receiver was overrun, not merely slow');
  });

  fixture.teardownTest();
});

/** The agent's JSON log lines of a task, parsed (any message: 'multicast incomplete' carries its reason in the message). */
async function readAgentLog(logFile: string, taskId: string): Promise<Array<Record<string, unknown>>> {
  return (await readFile(logFile, 'utf8'))
    .split('\n')
    .filter((l) => l.includes(taskId))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}
