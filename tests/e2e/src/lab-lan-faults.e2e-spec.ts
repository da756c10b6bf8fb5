import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  bytesOfBlocks,
  cachedContentOf,
  startLabDistribution,
  waitFor,
  watchProcess,
  type LabAgent,
  type LabDistribution,
  type LabReport,
  type LabSpec,
  type LabStack,
} from '@fleetcast/testing';
import { agentLogLines, assertVerifiedCopies, useLabFixture } from './support/lab-fixture';
import { lanActivityReported } from './support/lan-activity';

/**
 * The subnet multicast's failure cases on a real network: one branch of five devices behind a
 * 10 Mbit/s WAN link, agents with `--multicast` on four of them; the fifth is a host on the same
 * LAN with no agent, which forges packets in the first test. The representative multicasts as its
 * WAN download runs, so the multicast of the 16 MiB package lasts about 14 s: long enough to start a
 * device late or to kill the representative a third of the way in.
 */
const MIB = 1024 * 1024;
const PACKAGE_BYTES = 16 * MIB;
const WAN_RATE_MBIT = 10;
const DEVICES = 5;
/** The host with no agent: not a target, so not in the stack's agents. */
const FORGER_DEVICE = `east-${DEVICES}`;
const PROFILE = { useMulticast: true, sessionStartDelaySeconds: 3 };
/** 16 MiB at 10 Mbit/s is 14 s of WAN; a takeover adds a silence timeout (5 s) and a second WAN run of the rest. */
const TASK_TIMEOUT_MS = 75_000;
const TEST_TIMEOUT_MS = 110_000;
/** The election, the start delay and an agent's start on a loaded 2-core machine all fit in this. */
const SESSION_START_TIMEOUT_MS = 30_000;
const FORGER_SCRIPT = join(__dirname, 'support', 'lan-forger.js');
/** Forged packets: about 4 s at 100 packets per second (bursts of ten every 100 ms), well inside the 14 s multicast. */
const FORGED_DATA = 380;
const FORGED_ANNOUNCES = 20;
const FORGER_INTERVAL_MS = 100;

/** Apart from the other labs' ranges (10.209 to 10.214, and 10.215/10.216 of the LAN benchmark): each lab joins the host. */
const spec = (name: string): LabSpec => ({
  name,
  core: { subnet: '10.217.0.0/24' },
  branches: [{ name: 'east', subnet: '10.218.1.0/24', devices: DEVICES, wan: { rateMbit: WAN_RATE_MBIT } }],
});

function start(stack: LabStack, t: TestContext): Promise<LabDistribution> {
  return startLabDistribution({ stack, packageBytes: PACKAGE_BYTES, action: 'cache-only', profile: PROFILE, timeoutMs: TASK_TIMEOUT_MS, print: (line) => t.diagnostic(line) });
}

/** The agent that started the task's multicast (its log says "multicast session starting"), once one did. */
function sessionStarted(stack: LabStack, taskId: string): Promise<LabAgent> {
  return waitFor(
    async () => {
      for (const agent of stack.agents) if ((await agentLogLines(agent.logFile, 'multicast session starting', taskId).catch(() => [])).length > 0) return agent;
      return undefined;
    },
    { timeoutMs: SESSION_START_TIMEOUT_MS, intervalMs: 100, description: `an agent to start the multicast of task ${taskId}` },
  );
}

/** The most verified blocks any of these agents holds of the content (by its cache's own record). */
async function mostBlocksHeld(agents: readonly LabAgent[], contentId: string): Promise<{ held: number; of: number }> {
  let best = { held: 0, of: Infinity };
  for (const agent of agents) {
    const cached = await cachedContentOf(agent.cacheDir, contentId);
    if (cached && !cached.complete && cached.blocks.length > best.held) best = { held: cached.blocks.length, of: cached.blockCount };
  }
  return best;
}

function assertAllSucceeded(report: LabReport, except: readonly string[] = []): void {
  for (const device of report.devices.filter((d) => !except.includes(d.deviceId))) {
    assert.equal(device.state, 'succeeded', `${device.deviceId}: ${device.reason ?? device.state}`);
  }
}

describe('lab LAN faults: a forging host, a late joiner, a representative killed mid-multicast', () => {
  const fixture = useLabFixture({
    tag: 'lf',
    database: 'lab_lan_faults',
    spec,
    untested: 'the multicast failure cases are not tested on a real network',
    stack: { agentArgs: ['--multicast'], withoutAgent: [FORGER_DEVICE] },
  });

  test('a host on the subnet multicasts forged DATA and ANNOUNCE packets under a wrong key: all counted invalid, every copy verified, one WAN copy', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const stack = fixture.stackFor(t);
    if (!stack) return;
    const run = await start(stack, t);
    const representative = await sessionStarted(stack, run.taskId);
    // The forger knows the task ID (so the session) and the content's public figures, not the LAN key.
    const host = stack.lab.branches[0]!.devices[DEVICES - 1]!;
    const args = ['--task-id', run.taskId, '--interface', host.address, '--data', String(FORGED_DATA), '--announces', String(FORGED_ANNOUNCES), '--interval-ms', String(FORGER_INTERVAL_MS)];
    args.push('--content-id', run.contentId, '--size', String(PACKAGE_BYTES), '--pose-as', FORGER_DEVICE);
    const child = stack.lab.spawn(host.ns, process.execPath, [FORGER_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const forger = watchProcess(child, { name: 'lan-forger', logFile: join(fixture.workDir, 'lan-forger.log') });
    const exit = await forger.exited;
    const forgedAt = Date.now();
    assert.equal(exit.code, 0, forger.describe());
    const { forged } = JSON.parse(forger.lines().find((l) => l.startsWith('{')) ?? '{}') as { forged: { data: number; announce: number } };
    const forgedTotal = forged.data + forged.announce;
    assert.equal(forgedTotal, FORGED_DATA + FORGED_ANNOUNCES, 'the forger sent every packet');
    const report = await run.finish();

    assertAllSucceeded(report);
    await assertVerifiedCopies(stack.agents, report.contentId);
    const subnet = report.subnets[0]!;
    const forgedSeconds = (forgedAt - run.startedAt) / 1000;
    const invalid = subnet.lan?.invalidPackets ?? 0;
    const reported = await lanActivityReported(stack.nats, run.taskId);
    const perDevice = stack.agents.map((a) => [a.deviceId, reported.get(a.deviceId)?.invalidPackets ?? 0] as const);
    t.diagnostic(
      `forger: ${forged.data} DATA + ${forged.announce} ANNOUNCE packets, done +${forgedSeconds.toFixed(1)} s; invalid packets reported ${perDevice.map(([id, n]) => `${id} ${n}`).join(', ')}; ` +
        `on the subnet ${invalid}; representative ${subnet.lan?.representative} (multicast started by ${representative.deviceId})`,
    );
    // The forgery overlapped the transfer: every device was still at work when it ended, so each heard it all.
    for (const device of report.devices) assert.ok(device.seconds !== null && device.seconds > forgedSeconds, `${device.deviceId} done at ${device.seconds} s, before the forger ended (${forgedSeconds.toFixed(1)} s)`);
    // Each agent counts each forged datagram it hears once (the LAN has no configured loss; a
    // datagram the kernel drops under load may go uncounted, hence the 5 % below).
    for (const [deviceId, n] of perDevice) assert.ok(n >= 0.95 * forgedTotal && n <= forgedTotal, `${deviceId}: ${n} invalid packets reported, of the ${forgedTotal} forged`);
    assert.equal(invalid, perDevice.reduce((sum, [, n]) => sum + n, 0), 'the task summary adds up the devices\' counts');
    // No forged ANNOUNCE made a follower of the forger: the real representative served the LAN, the origin sent one copy.
    assert.equal(subnet.lan?.representative, representative.deviceId);
    assert.deepEqual(report.devices.filter((d) => d.originServed > 0).map((d) => d.deviceId), [representative.deviceId], 'devices the origin served');
    assert.ok(subnet.originRatio <= 1.02, `the origin served ${subnet.originRatio.toFixed(4)}x the package`);
  });

  test('a device that comes online after the multicast started completes from the multicast and its peers, nothing from the origin', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const stack = fixture.stackFor(t);
    if (!stack) return;
    // Offline when the task is created: its assignment waits in the stream until it connects.
    const late = stack.agents[stack.agents.length - 1]!;
    await late.process.stop();
    const run = await start(stack, t);
    const representative = await sessionStarted(stack, run.taskId);
    const others = stack.agents.filter((a) => a !== late);
    const joinedAt = await waitFor(
      async () => {
        const most = await mostBlocksHeld(others, run.contentId);
        return most.held >= Math.ceil(most.of / 5) ? most : undefined;
      },
      { timeoutMs: TASK_TIMEOUT_MS, intervalMs: 100, description: 'a fifth of the blocks multicast' },
    );
    const restartedAt = Date.now();
    await stack.startAgent(late.deviceId);
    t.diagnostic(`${late.deviceId} started again when the multicast had ${joinedAt.held} of ${joinedAt.of} blocks on a device (+${((restartedAt - run.startedAt) / 1000).toFixed(1)} s)`);
    const report = await run.finish();

    assertAllSucceeded(report);
    await assertVerifiedCopies(stack.agents, report.contentId);
    const figures = report.devices.find((d) => d.deviceId === late.deviceId)!;
    const roles = await agentLogLines(late.logFile, 'LAN session role', run.taskId);
    const followedAt = roles.length > 0 ? `+${((Date.parse(String(roles[0]!.time)) - run.startedAt) / 1000).toFixed(1)} s` : 'never';
    t.diagnostic(
      `late joiner ${late.deviceId}: role ${roles.map((r) => r.role).join(', ') || 'none'} at ${followedAt}; multicast ${figures.bytes.multicast} B, peer ${figures.bytes.peer} B, ` +
        `origin ${figures.bytes.origin} B (origin's count ${figures.originServed} B); done at +${figures.seconds} s, the others by +${Math.max(...report.devices.filter((d) => d !== figures).map((d) => d.seconds ?? 0))} s`,
    );
    assert.notEqual(late.deviceId, representative.deviceId);
    assert.deepEqual(roles.map((r) => r.role), ['follower'], 'the late device followed the running session');
    assert.equal(figures.originServed, 0, 'the origin served the late device nothing');
    assert.equal(figures.bytes.origin, 0, 'the late device reported nothing from the origin');
    assert.ok(figures.bytes.multicast > 0, 'the late device received the rest of the multicast');
    assert.ok(figures.bytes.peer > 0, 'the late device repaired the blocks it missed from its peers');
    assert.ok(figures.bytes.multicast + figures.bytes.peer >= PACKAGE_BYTES, `multicast + peer ${figures.bytes.multicast + figures.bytes.peer} B cover the package`);
    // Nobody else went to the origin because of it: the representative alone, one copy.
    assert.deepEqual(report.devices.filter((d) => d.originServed > 0).map((d) => d.deviceId), [representative.deviceId], 'devices the origin served');
  });

  test('the representative killed a third into the multicast: the others complete, none takes from the origin more than the blocks no survivor held', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const stack = fixture.stackFor(t);
    if (!stack) return;
    const run = await start(stack, t);
    const representative = await sessionStarted(stack, run.taskId);
    const survivors = stack.agents.filter((a) => a !== representative);
    await waitFor(
      async () => {
        const most = await mostBlocksHeld(survivors, run.contentId);
        return most.held >= Math.ceil(most.of / 3);
      },
      { timeoutMs: TASK_TIMEOUT_MS, intervalMs: 100, description: 'a third of the blocks multicast' },
    );
    await representative.process.kill();
    const killedAt = Date.now();
    // What the subnet still holds, by each survivor's record of verified blocks. A successor takes
    // over only after missed keep-alives (seconds), so nothing was fetched meanwhile.
    const snapshot = await Promise.all(survivors.map((a) => cachedContentOf(a.cacheDir, run.contentId)));
    const partials = snapshot.filter((c): c is Extract<typeof c, { complete: false }> => c !== null && !c.complete);
    assert.ok(partials.length > 0 && snapshot.every((c) => c === null || !c.complete), 'at the kill, survivors hold part of the content, none all of it');
    const { blockSize, blockCount } = partials[0]!;
    const onSubnet = new Set(partials.flatMap((c) => c.blocks));
    const missing = Array.from({ length: blockCount }, (_, i) => i).filter((i) => !onSubnet.has(i));
    const bound = bytesOfBlocks(missing, PACKAGE_BYTES, blockSize);
    const report = await run.finish({ exclude: [representative.deviceId] });

    assertAllSucceeded(report, [representative.deviceId]);
    await assertVerifiedCopies(survivors, report.contentId);
    const subnet = report.subnets[0]!;
    const figures = report.devices.filter((d) => d.deviceId !== representative.deviceId);
    const fellSilent = await Promise.all(survivors.map(async (a) => (await agentLogLines(a.logFile, 'representative fell silent: electing a successor', run.taskId)).length > 0));
    const successors = (await Promise.all(survivors.map(async (a) => ((await agentLogLines(a.logFile, 'multicast session starting', run.taskId)).some((l) => l.takeover === true) ? a.deviceId : null)))).filter((id) => id !== null);
    const killed = report.devices.find((d) => d.deviceId === representative.deviceId)!;
    t.diagnostic(
      `killed ${representative.deviceId} at +${((killedAt - run.startedAt) / 1000).toFixed(1)} s after the origin served it ${killed.originServed} B; ` +
        `survivors held ${partials.map((c) => c.blocks.length).join('/')} of ${blockCount} blocks, ${missing.length} on none (bound ${bound} B); ` +
        `successor ${successors.join(', ') || 'none'}; origin served per survivor: ${figures.map((d) => `${d.deviceId} ${d.originServed} B`).join(', ')}; ` +
        `survivors done ${Math.max(...figures.map((d) => d.seconds ?? 0)).toFixed(1)} s after the task was created`,
    );
    assert.ok(missing.length > 0, 'the kill came before the subnet held every block');
    assert.ok(fellSilent.every(Boolean), `every survivor saw its representative fall silent: ${fellSilent.join(', ')}`);
    assert.equal(successors.length, 1, `one successor took over the session: ${successors.join(', ')}`);
    assert.equal(subnet.lan?.representative, successors[0], 'the summary names the successor');
    for (const device of figures) {
      assert.ok(device.originServed <= bound, `${device.deviceId}: the origin served it ${device.originServed} B, at most the ${missing.length} blocks no survivor held (${bound} B)`);
      assert.ok(device.bytes.origin <= bound, `${device.deviceId}: reported ${device.bytes.origin} B from the origin, at most ${bound} B`);
    }
  });

  fixture.teardownTest();
});
