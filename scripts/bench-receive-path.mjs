#!/usr/bin/env node
// The receiver's per-packet path alone, in one process, without sockets or timing noise: real
// authenticated datagrams of a session (made by the sender's own symbol encoder and erasure coder)
// are fed to a MulticastSessions port (the socket's decoding, authentication and dispatch) and a
// MulticastSource (the receiver reducer, group decoding, block verification), whose sink verifies
// each block again as the content cache does. Prints CPU milliseconds per MB of content at each
// loss, so that a change to the receive path is measured before a lab run.
//
//   node scripts/bench-receive-path.mjs [--size-mb 16] [--loss 0,5] [--runs 3] [--cold] [--json]
//   node scripts/bench-receive-path.mjs --loss 5 --profile out.cpuprofile   (where the time goes: a V8
//        CPU profile of the measured runs only, not of making the datagrams; self time per function printed)
//
// Loss drops that share of DATA symbols at random (seeded) and adds parity enough for every group,
// as the sender's repair would: the decoding cost of a lossy session without its NACK round trips.
// Needs a built workspace (npm run build).
import { createRequire } from 'node:module';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Session } from 'node:inspector/promises';
import { writeFile } from 'node:fs/promises';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The agent's receive path and the libraries it resolves, from one compiled tree (the `dist` folder of agents/agent). */
function load(impl) {
  const require = createRequire(join(impl, 'src/adapters/x.js'));
  return {
    impl,
    content: require('@fleetcast/content'),
    protocol: require('@fleetcast/lan-protocol'),
    MulticastSessions: require(join(impl, 'src/adapters/udp-multicast.js')).MulticastSessions,
    MulticastSource: require(join(impl, 'src/adapters/multicast-source.js')).MulticastSource,
  };
}

/** The manifests' block size (1 MiB). */
const BLOCK_SIZE = 1024 * 1024;
const MB = 1e6;

const { values: opts } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '16' },
    loss: { type: 'string', default: '0,5' },
    runs: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    profile: { type: 'string' },
    impl: { type: 'string' },
    cold: { type: 'boolean', default: false },
  },
});
const sizeMb = Number(opts['size-mb']);
const losses = opts.loss.split(',').map(Number);
const runs = Number(opts.runs);
// --impl DIR[,DIR...]: compiled agents measured alternately in one invocation, so that a before/after ratio shares its conditions.
const impls = (opts.impl === undefined ? [join(ROOT, 'agents/agent/dist')] : opts.impl.split(',').map((p) => resolve(p))).map(load);
const { content, protocol } = impls[0];

/** A port whose datagrams come from the array the bench feeds; nothing goes out. */
const fedPortClass = (lib) =>
  class FedPort extends lib.MulticastSessions {
    transmit() {}
    queuedDatagrams() {
      return 0;
    }
    feed(bytes) {
      this.receive(bytes, { address: '10.0.0.1', port: 0 });
    }
  };
for (const lib of impls) lib.FedPort = fedPortClass(lib);

const TASK = 'bench-receive-path';
const SENDER = 'device-sender';

/** Every datagram a receiver hears from the session at `lossPercent`: an ANNOUNCE, then DATA (some dropped) and the parity that repairs each group. */
function datagramsOf(bytes, manifest, lanKey, lossPercent, random) {
  const tagger = protocol.createPacketTagger(lanKey);
  const sessionId = protocol.sessionIdOf(TASK);
  const senderId = protocol.senderIdOf(SENDER);
  const layout = { size: bytes.length, blockSize: BLOCK_SIZE, symbolSize: protocol.DEFAULT_SYMBOL_BYTES, groupDataSymbols: protocol.DEFAULT_GROUP_DATA_SYMBOLS };
  const announce = protocol.encodePacket(
    {
      type: 'announce',
      sessionId,
      senderId,
      seq: 1,
      phase: 'sending',
      weight: 100,
      contentId: manifest.contentId,
      size: manifest.size,
      blockSize: manifest.blockSize,
      symbolSize: layout.symbolSize,
      groupDataSymbols: layout.groupDataSymbols,
      proactiveParity: 0,
      startDelayMs: 0,
      rateKbps: 0,
      blocksReady: protocol.blockCountOf(layout),
      sendingBlock: 0,
    },
    tagger,
  );
  const encode = protocol.createSymbolEncoder({ sessionId, senderId }, tagger);
  const out = [announce];
  for (let b = 0; b < protocol.blockCountOf(layout); b++) {
    const block = bytes.subarray(b * BLOCK_SIZE, Math.min((b + 1) * BLOCK_SIZE, bytes.length));
    for (let g = 0; g < protocol.groupsInBlock(layout, b); g++) {
      const k = protocol.groupDataCount(layout, b, g);
      const symbols = [];
      let lost = 0;
      for (let i = 0; i < k; i++) {
        const { start, end } = protocol.symbolSpan(layout, b, g, i);
        symbols.push(block.subarray(start, end));
        if (random() * 100 < lossPercent) lost++;
        else out.push(encode('data', b, g, i, symbols[i]));
      }
      if (lost > 0) {
        const parity = protocol.createErasureCoder(k, lost).encode(symbols);
        for (let p = 0; p < lost; p++) out.push(encode('parity', b, g, p, parity[p]));
      }
    }
  }
  return out;
}

async function once(lib, datagrams, manifest, lanKey) {
  const port = new lib.FedPort();
  const source = new lib.MulticastSource({ socket: port, taskId: TASK, deviceId: 'device-r1', lanKey, random: protocol.seededRandom(7) });
  const blocks = Array.from({ length: content.blockCount(manifest.size, manifest.blockSize) }, (_, i) => i);
  let written = 0;
  const controller = new AbortController();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const fetch = source.fetchBlocks({
    manifest,
    blocks,
    // The content cache checks every block again before it writes it (writeBlock): counted here too.
    sink: async (index, data) => {
      if (!lib.content.verifyBlock(manifest, index, data)) throw new Error(`block ${index} does not match`);
      written++;
    },
    signal: controller.signal,
  });
  // Fed a socket's worth at a time, with a turn of the event loop between, as datagrams arrive.
  const BATCH = 64;
  for (let i = 0; i < datagrams.length; i += BATCH) {
    for (let j = i; j < Math.min(i + BATCH, datagrams.length); j++) port.feed(datagrams[j]);
    await new Promise((r) => setImmediate(r));
  }
  await fetch;
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (written !== blocks.length) throw new Error(`${written} of ${blocks.length} blocks written`);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs };
}

const bytes = randomBytes(Math.round(sizeMb * 1024 * 1024));
const hasher = new content.BlockHasher(BLOCK_SIZE);
hasher.update(bytes);
const manifest = hasher.finish();
const lanKey = protocol.generateLanKey();
const results = [];
const inspector = opts.profile === undefined ? null : new Session();
if (inspector !== null) {
  inspector.connect();
  await inspector.post('Profiler.enable');
  await inspector.post('Profiler.setSamplingInterval', { interval: 200 });
}
const profiles = [];
for (const loss of losses) {
  const datagrams = datagramsOf(bytes, manifest, lanKey, loss, protocol.seededRandom(loss + 1));
  // One unmeasured run each warms the JIT, as a long session does; --cold measures the first run
  // of a fresh process instead, as an agent's first session is (use --runs 1 and one --impl).
  if (!opts.cold) for (const lib of impls) await once(lib, datagrams, manifest, lanKey);
  const per = impls.map(() => []);
  if (inspector !== null) await inspector.post('Profiler.start');
  for (let r = 0; r < runs; r++) for (const [i, lib] of impls.entries()) per[i].push(await once(lib, datagrams, manifest, lanKey));
  if (inspector !== null) profiles.push({ loss, profile: (await inspector.post('Profiler.stop')).profile });
  for (const [i, lib] of impls.entries()) {
    const best = per[i].reduce((a, b) => (b.cpuMs < a.cpuMs ? b : a));
    const median = [...per[i]].sort((a, b) => a.cpuMs - b.cpuMs)[Math.floor(per[i].length / 2)];
    const perMb = (ms) => ms / (bytes.length / MB);
    results.push({ impl: lib.impl, loss, datagrams: datagrams.length, bestCpuMsPerMb: perMb(best.cpuMs), medianCpuMsPerMb: perMb(median.cpuMs), medianWallMs: median.wallMs });
    const name = impls.length > 1 ? ` [${lib.impl}]` : '';
    console.log(`loss ${loss} %${name}: ${datagrams.length} datagrams, receiver CPU ${perMb(median.cpuMs).toFixed(2)} ms/MB median (best ${perMb(best.cpuMs).toFixed(2)}) over ${runs} runs of ${sizeMb} MiB`);
  }
}
for (const { loss, profile } of profiles) {
  await writeFile(profiles.length === 1 ? opts.profile : opts.profile.replace(/(\.cpuprofile)?$/, `-loss${loss}.cpuprofile`), JSON.stringify(profile));
  printSelfTimes(loss, profile);
}
if (opts.json) console.log(JSON.stringify({ sizeMb, results }));

/** The functions that took the most self time in a V8 CPU profile, with their share. */
function printSelfTimes(loss, profile) {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byNode.get(profile.samples[i]);
    const dt = profile.timeDeltas[i] ?? 0;
    const f = node.callFrame;
    if (f.functionName === '(idle)' || f.functionName === '(program)') continue;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  console.log(`loss ${loss} %: self time by function (${(total / 1000).toFixed(0)} ms sampled)`);
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${key}`);
}
