import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { connect } from 'nats';
import { deviceInboxPrefix, ErrorCode, FleetcastError, TasksDeviceRpc } from '@fleetcast/contracts';
import { natsAuthenticator, RpcClient } from '@fleetcast/nats';
import { startLabDistribution, waitFor, type LabReport, type LabSpec, type LabStack } from '@fleetcast/testing';
import { assertVerifiedCopies, useLabFixture } from './support/lab-fixture';

/**
 * Confidential packages on a real network: one branch of five devices behind a 20 Mbit/s WAN link,
 * 3 % of UDP lost at every device's LAN ingress, agents with `--multicast`, an install task on four
 * of them; the fifth is on the same LAN but not a target. In the confidential run one target is
 * offline until the others are done, then comes back and takes the package from its peers (a late
 * wave). tcpdump captures every interface of the branch router's namespace (the LAN bridge, its
 * ports, the WAN end) during each transfer. A run with the same plaintext, not confidential, is
 * captured first: the marker must show in that capture (so the check can fail), and must not show
 * in the confidential run's, which must still hold the transfer's traffic.
 */
const MIB = 1024 * 1024;
/** Several manifest blocks (a multicast session of many packets, repairs likely at 3 % loss), small enough for two runs and their captures. */
const PACKAGE_BYTES = 6 * MIB;
const DEVICES = 5;
const BYSTANDER = `north-${DEVICES}`;
const TARGETS = Array.from({ length: DEVICES - 1 }, (_, i) => `north-${i + 1}`);
/** The target that is offline while the others download, and then fills from them. */
const LATE = `north-${DEVICES - 1}`;
/** A marker that random bytes will not make by chance (32 bytes: 2^-256 a position). */
const MARKER = 'FLEETCAST-CONFIDENTIAL-MARKER-5b1e9c2d';
const PROFILE = { useMulticast: true, sessionStartDelaySeconds: 2 };
/** 6 MiB at 20 Mbit/s is under 3 s of WAN; the start delay, repairs and opening on a loaded 2-core machine stay inside this. */
const TASK_TIMEOUT_MS = 75_000;
/** tcpdump writes its header at once; a machine under load may take a few seconds to start it. */
const CAPTURE_START_TIMEOUT_MS = 15_000;

/** Apart from every other lab test file's ranges (10.209 to 10.220): each lab joins the host. */
const spec = (name: string): LabSpec => ({
  name,
  core: { subnet: '10.231.0.0/24' },
  branches: [{ name: 'north', subnet: '10.232.1.0/24', devices: DEVICES, wan: { rateMbit: 20 }, lanLossPercent: 3, lossProto: 'udp' as const }],
});

/** The plaintext: the marker, numbered, over and over (a known string repeated, as the issue asks). */
function markedContent(size: number): { sha256: string; stream: () => Readable; bytes: Buffer } {
  const lines: string[] = [];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const line = `${MARKER} line ${i}\n`;
    lines.push(line);
    length += line.length;
  }
  const bytes = Buffer.from(lines.join('')).subarray(0, size);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), stream: () => Readable.from([bytes]), bytes };
}

/** A capture of every interface of the branch router's namespace, written to `file` until stopped. */
async function startCapture(stack: LabStack, file: string): Promise<{ stop: () => Promise<void> }> {
  const router = stack.lab.branches[0]!.routerNs;
  // -i any: the bridge, each device's port and the WAN end, so that device-to-device unicast (peer repairs) is seen too.
  // -s 0: whole frames; -U: each packet written as it comes, so that stopping loses none.
  const child: ChildProcess = stack.lab.spawn(router, 'tcpdump', ['-i', 'any', '-n', '-s', '0', '-U', '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const listening = new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`tcpdump ended (${code}) before it listened: ${stderr}`)));
    setTimeout(() => reject(new Error(`tcpdump did not start listening within ${CAPTURE_START_TIMEOUT_MS} ms: ${stderr}`)), CAPTURE_START_TIMEOUT_MS).unref();
  });
  await listening;
  return {
    async stop() {
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      await exited;
    },
  };
}

/** How many times `needle` occurs in the file (read a MiB at a time, with an overlap so a match across reads counts once). */
async function occurrences(file: string, needle: string): Promise<number> {
  const pattern = Buffer.from(needle);
  const handle = await open(file, 'r');
  try {
    let count = 0;
    let carry = Buffer.alloc(0);
    const buffer = Buffer.alloc(MIB);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return count;
      const window = Buffer.concat([carry, buffer.subarray(0, bytesRead)]);
      for (let at = window.indexOf(pattern); at !== -1; at = window.indexOf(pattern, at + 1)) count++;
      carry = window.subarray(Math.max(0, window.length - pattern.length + 1));
    }
  } finally {
    await handle.close();
  }
}

describe('lab confidential: a capture of the branch LAN holds no plaintext; a device not targeted gets no key', () => {
  const fixture = useLabFixture({ tag: 'lc', database: 'lab_confidential', spec, untested: 'confidential packages are not tested on a real network', stack: { agentArgs: ['--multicast'] } });
  const content = markedContent(PACKAGE_BYTES);
  // Each target installs only if the file it is given is the plaintext (its SHA-256): the install is the decryption's proof.
  const install = { command: '/bin/sh', args: ['-c', `test "$(sha256sum "$FLEETCAST_PACKAGE_PATH" | cut -c1-64)" = "${content.sha256}"`] };

  /**
   * One install task, captured. With `late`, that target's agent is stopped before the task and
   * started again once the others are done; the run ends when it is done too. Answers the report
   * (read when the others were done) and the late device's row (its bytes by source).
   */
  const distribute = async (
    t: { diagnostic: (line: string) => void },
    stack: LabStack,
    run: { confidential: boolean; targets: readonly string[]; late?: string },
    capture: string,
  ): Promise<{ report: LabReport; markers: number; bytes: number; lateRow?: { state: string; bytes: { origin: number; multicast: number; peer: number } } }> => {
    const recorder = await startCapture(stack, capture);
    let report: LabReport;
    let lateRow;
    try {
      if (run.late) await stack.agent(run.late).process.stop();
      const distribution = await startLabDistribution({
        stack,
        lab: stack.lab,
        packageBytes: PACKAGE_BYTES,
        action: 'install',
        profile: PROFILE,
        content,
        confidential: run.confidential,
        install,
        targets: run.targets,
        seed: `lab-confidential-${run.confidential}`,
        timeoutMs: TASK_TIMEOUT_MS,
        print: (line) => t.diagnostic(line),
      });
      report = await distribution.finish(run.late ? { exclude: [run.late] } : {});
      if (run.late) {
        await stack.startAgent(run.late);
        t.diagnostic(`[lab] ${run.late} back online`);
        lateRow = await waitFor(
          async () => {
            const rows = await stack.api.ok<{ items: Array<{ deviceId: string; state: string; reason: unknown; bytes: { origin: number; multicast: number; peer: number } }> }>('GET', `/v1/tasks/${report.taskId}/devices?limit=100`);
            const row = rows.items.find((r) => r.deviceId === run.late);
            return row && ['succeeded', 'failed', 'cancelled'].includes(row.state) ? row : undefined;
          },
          { timeoutMs: TASK_TIMEOUT_MS, description: `${run.late} done after it came back` },
        );
        t.diagnostic(`[lab] ${run.late}: ${JSON.stringify(lateRow)}`);
      }
    } finally {
      await recorder.stop();
    }
    const markers = await occurrences(capture, MARKER);
    const bytes = (await stat(capture)).size;
    t.diagnostic(`[capture] ${run.confidential ? 'confidential' : 'control'} run: ${(bytes / MIB).toFixed(1)} MiB captured, marker found ${markers} times`);
    for (const device of report.devices.filter((d) => d.deviceId !== run.late)) assert.equal(device.state, 'succeeded', `${device.deviceId}: ${device.reason ?? device.state}`);
    return { report, markers, bytes, ...(lateRow ? { lateRow } : {}) };
  };

  test(
    'install, 6 MiB to 4 of 5 devices, multicast then a late device from its peers: the control run shows the marker on the LAN, the confidential run never does',
    { timeout: 200_000 },
    async (t) => {
      const stack = fixture.stackFor(t);
      if (!stack) return;
      const captures = join(fixture.workDir, 'captures');
      await mkdir(captures, { recursive: true });

      const control = await distribute(t, stack, { confidential: false, targets: TARGETS.filter((d) => d !== LATE) }, join(captures, 'control.pcap'));
      assert.equal(control.report.contentId, content.sha256, 'the control package is the plaintext');
      assert.ok(control.markers > 0, 'the capture sees the plaintext of a package that is not confidential: the check below can fail');

      const secret = await distribute(t, stack, { confidential: true, targets: TARGETS, late: LATE }, join(captures, 'confidential.pcap'));
      assert.notEqual(secret.report.contentId, content.sha256, 'the confidential package travels as its ciphertext');
      // The capture did see the transfer: at least the package's size of frames (it crossed the WAN into the LAN, then the LAN).
      assert.ok(secret.bytes > PACKAGE_BYTES, `the capture holds the transfer (${secret.bytes} bytes)`);
      assert.equal(secret.markers, 0, 'no plaintext on the branch LAN or WAN end');
      const received = secret.report.devices.reduce((n, d) => n + d.bytes.multicast + d.bytes.peer, 0);
      t.diagnostic(`[lab] confidential run: ${(received / MIB).toFixed(2)} MiB over the LAN (multicast and peers)`);
      assert.ok(received > 0, 'the LAN carried the confidential package (multicast or peers), not only the WAN');
      // The late target installed too, from what its peers hold (ciphertext they verified and serve).
      assert.equal(secret.lateRow?.state, 'succeeded', `${LATE}: ${JSON.stringify(secret.lateRow)}`);
      assert.ok(secret.lateRow!.bytes.peer > 0, `${LATE} took blocks from its peers: ${JSON.stringify(secret.lateRow!.bytes)}`);

      // Every target holds the ciphertext, verified against its manifest; no cache holds the plaintext.
      const targets = stack.agents.filter((a) => TARGETS.includes(a.deviceId));
      await assertVerifiedCopies(targets, secret.report.contentId);
      for (const agent of targets) {
        const cached = await readFile(join(agent.cacheDir, 'content', secret.report.contentId));
        assert.equal(cached.indexOf(MARKER), -1, `${agent.deviceId}'s cache holds no plaintext`);
      }

      // The device on the same LAN that no task targets asks for the key with its own credentials: refused.
      const args = await stack.controlPlane.agentArgs(BYSTANDER, join(fixture.workDir, 'bystander'));
      assert.equal(args[0], '--nats-creds', 'the lab issues device credentials');
      const creds = args[1]!;
      const nc = await connect({ servers: stack.nats.url, authenticator: natsAuthenticator({ credsFile: creds }), inboxPrefix: deviceInboxPrefix(BYSTANDER), reconnect: false });
      try {
        const rpc = new RpcClient(nc);
        await assert.rejects(rpc.callAsDevice(TasksDeviceRpc.getContentKey, BYSTANDER, { contentId: secret.report.contentId }), (e: FleetcastError) => e.code === ErrorCode.NotATarget);
        // Content no package has: nothing to give either.
        await assert.rejects(rpc.callAsDevice(TasksDeviceRpc.getContentKey, BYSTANDER, { contentId: 'f'.repeat(64) }), (e: FleetcastError) => e.code === ErrorCode.ManifestNotFound);
      } finally {
        await nc.close();
      }
    },
  );

  fixture.teardownTest();
});
