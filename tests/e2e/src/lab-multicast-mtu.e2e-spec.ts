import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runLabDistribution, waitFor, type Lab, type LabReport, type LabSpec } from '@fleetcast/testing';
import { agentLogLines, assertVerifiedCopies, useLabFixture } from './support/lab-fixture';

/**
 * Subnet multicast on a LAN whose MTU is 1280 (IPv6's minimum; a VPN bridge or a tunnelled
 * segment): the bridge, the veths and the devices' interfaces are all at 1280, 2 % of UDP is dropped
 * at every device's LAN ingress so that NACKs and repairs cross it too. The representative must
 * size its symbols to the interface (1200 bytes, a 1,275-byte datagram) so that nothing it sends is
 * fragmented: an nftables counter of IPv4 fragments at every device's LAN ingress, ahead of the
 * loss rule, must read 0 once the distribution is over, while a counter of the session's datagrams
 * shows it saw the multicast. The fragment counter is then shown to count: a 3,000-byte datagram
 * between two devices must raise it.
 */
const MIB = 1024 * 1024;
const PACKAGE_BYTES = 8 * MIB;
const DEVICES = 4;
const LAN_MTU = 1280;
/** What `symbolSizeForMtu(1280, true)` gives: the session is authenticated (a LAN key per task). */
const EXPECTED_SYMBOL_BYTES = 1200;
const LAN_LOSS_PERCENT = 2;
/** The session's UDP port (DEFAULT_MULTICAST_PORT): the agents of the lab stack run with the default. */
const SESSION_PORT = 47470;
/** More than two 1280-byte frames' worth: the kernel must fragment it on this LAN. */
const FORCED_DATAGRAM_BYTES = 3000;
const PROFILE = { useMulticast: true, sessionStartDelaySeconds: 3 };
/** Election (3 s), start delay (3 s), 8 MiB over the 20 Mbit/s WAN (3.4 s), with room for a loaded 2-core machine. */
const TASK_TIMEOUT_MS = 75_000;

/** Apart from the other labs' ranges (10.209 to 10.220, the benchmark's 10.215/10.216): each lab joins the host. */
const spec = (name: string): LabSpec => ({
  name,
  core: { subnet: '10.225.0.0/24' },
  branches: [{ name: 'small', subnet: '10.226.1.0/24', devices: DEVICES, wan: { rateMbit: 20 }, lanLossPercent: LAN_LOSS_PERCENT, lossProto: 'udp', mtu: LAN_MTU }],
});

/**
 * Counters at a device's LAN ingress, in a table of its own named with the lab's prefix (so the
 * lab's cleanup finds it): IPv4 fragments (more-fragments flag or a fragment offset: every
 * fragment, first or not), and datagrams to the session port. At priority -10, ahead of the loss
 * rule (priority 0): what reached the device's interface, dropped later or not.
 */
function counterRuleset(table: string, iface: string): string {
  return [
    `table inet ${table} {`,
    '  counter fragments { }',
    '  counter session { }',
    '  chain lan-ingress {',
    `    type filter hook ingress device "${iface}" priority -10; policy accept;`,
    '    ip frag-off & 0x3fff != 0 counter name "fragments"',
    `    udp dport ${SESSION_PORT} counter name "session"`,
    '  }',
    '}',
    '',
  ].join('\n');
}

async function readCounter(lab: Lab, ns: string, table: string, counter: string): Promise<number> {
  const { stdout } = await lab.exec(ns, 'nft', ['list', 'counter', 'inet', table, counter]);
  const packets = /packets (\d+)/.exec(stdout);
  assert.ok(packets, `no packet count in:\n${stdout}`);
  return Number(packets[1]);
}

/** A node one-liner run inside a namespace: one UDP datagram of `bytes` to `address`:9 (discard). */
const sendDatagramScript = (address: string, bytes: number): string =>
  `const s = require('node:dgram').createSocket('udp4'); s.send(Buffer.alloc(${bytes}), 9, '${address}', (e) => { s.close(); if (e) { console.error(e.message); process.exit(1); } });`;

describe('lab multicast on a 1280-byte MTU subnet: symbols sized to the link, no IP fragment on the LAN', () => {
  const fixture = useLabFixture({ tag: 'mt', database: 'lab_multicast_mtu', spec, untested: 'multicast on a small-MTU subnet is not tested on a real network', stack: { agentArgs: ['--multicast'] } });

  test('cache-only, 8 MiB to 4 devices at MTU 1280 and 2 % loss: verified copies, symbols of 1200 bytes, 0 fragments; a forced big datagram is counted', { timeout: 120_000 }, async (t) => {
    const stack = fixture.stackFor(t);
    if (!stack) return;
    const lab = stack.lab;
    const devices = lab.branches[0]!.devices;
    const table = `${lab.name}-frag`;

    // The lab gave every device interface the LAN's MTU (what the agents read).
    for (const device of devices) {
      const { stdout } = await lab.exec(device.ns, 'ip', ['-j', 'link', 'show', 'dev', device.iface]);
      assert.equal((JSON.parse(stdout) as Array<{ mtu: number }>)[0]!.mtu, LAN_MTU, `${device.ns} ${device.iface}`);
    }
    for (const device of devices) await lab.exec(device.ns, 'nft', ['-f', '-'], { input: counterRuleset(table, device.iface) });

    const report: LabReport = await runLabDistribution({
      stack,
      lab,
      packageBytes: PACKAGE_BYTES,
      action: 'cache-only',
      profile: PROFILE,
      timeoutMs: TASK_TIMEOUT_MS,
      print: (line) => t.diagnostic(line),
    });
    for (const device of report.devices) assert.equal(device.state, 'succeeded', `${device.deviceId}: ${device.reason ?? device.state}`);
    await assertVerifiedCopies(stack.agents, report.contentId);
    const subnet = report.subnets[0]!;
    const representative = subnet.lan?.representative ?? null;
    assert.ok(representative !== null, 'a representative multicast the package');
    // The LAN carried it: the WAN once (the representative's download), not once per device.
    assert.ok(subnet.originRatio <= 1.02, `the origin served ${subnet.originRatio.toFixed(4)}x the package`);

    // The representative announced symbols sized to its interface's MTU.
    const repAgent = stack.agents.find((a) => a.deviceId === representative)!;
    const starts = await agentLogLines(repAgent.logFile, 'multicast session starting', report.taskId);
    assert.ok(starts.length > 0, 'the representative logged its session start');
    for (const start of starts) assert.deepEqual([start.mtu, start.symbolSize], [LAN_MTU, EXPECTED_SYMBOL_BYTES], JSON.stringify(start));

    // Every device saw the session's datagrams, and not one IPv4 fragment.
    for (const device of devices) {
      const session = await readCounter(lab, device.ns, table, 'session');
      const fragments = await readCounter(lab, device.ns, table, 'fragments');
      t.diagnostic(`${device.ns}: ${session} session datagrams, ${fragments} fragments`);
      assert.ok(session > 1000, `${device.ns}: only ${session} datagrams to the session port reached its interface`);
      assert.equal(fragments, 0, `${device.ns}: ${fragments} IPv4 fragments reached its LAN interface`);
    }

    // The counter does count fragments: a datagram too big for the LAN, from one device to another.
    const [from, to] = [devices[0]!, devices[1]!];
    const before = await readCounter(lab, to.ns, table, 'fragments');
    await lab.exec(from.ns, process.execPath, ['-e', sendDatagramScript(to.address, FORCED_DATAGRAM_BYTES)]);
    // 3,000 bytes + 8 of UDP header at MTU 1280: three fragments (1256 + 1256 + 496, offsets in 8-byte units).
    // Polled: the first datagram to a neighbour waits for ARP.
    const counted = await waitFor(async () => (await readCounter(lab, to.ns, table, 'fragments')) - before >= 3, { timeoutMs: 5_000, intervalMs: 100, description: 'the forced datagram\'s fragments to be counted' });
    assert.ok(counted);
    assert.equal((await readCounter(lab, to.ns, table, 'fragments')) - before, 3, `fragments counted for one ${FORCED_DATAGRAM_BYTES}-byte datagram`);
  });

  fixture.teardownTest();
});
