import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  createPacketTagger,
  DEFAULT_GROUP_DATA_SYMBOLS,
  DEFAULT_MULTICAST_GROUP_V4,
  DEFAULT_MULTICAST_PORT,
  DEFAULT_SYMBOL_BYTES,
  encodePacket,
  generateLanKey,
  MULTICAST_TTL,
  senderIdOf,
  sessionIdOf,
  type AnnouncePacket,
  type DataPacket,
} from '@fleetcast/lan-protocol';

/**
 * A hostile host on a branch subnet, for the lab tests: it knows a task's ID (so its session ID,
 * `sessionIdOf`) and the content's public figures, but not the task's LAN key, which reaches only
 * the target agents over NATS. It multicasts well-formed DATA packets for the session's blocks, and
 * ANNOUNCE packets of a heavier representative that has every block, all authenticated under a
 * random key of its own, to the group and port the agents use. Run inside a lab namespace:
 *
 *   node lan-forger.js --task-id T --interface 10.218.1.15 --data 400 --announces 20
 *     [--content-id H --size N --block-size B] [--pose-as east-1] [--group G --port P] [--interval-ms 10]
 *
 * Prints one JSON line when done: `{"forged":{"data":n,"announce":m},"key":"<first bytes>"}`.
 */
const { values: args } = parseArgs({
  options: {
    'task-id': { type: 'string' },
    interface: { type: 'string' },
    group: { type: 'string', default: DEFAULT_MULTICAST_GROUP_V4 },
    port: { type: 'string', default: String(DEFAULT_MULTICAST_PORT) },
    data: { type: 'string', default: '400' },
    announces: { type: 'string', default: '0' },
    'content-id': { type: 'string', default: '00'.repeat(32) },
    size: { type: 'string', default: String(16 * 1024 * 1024) },
    'block-size': { type: 'string', default: String(1024 * 1024) },
    'pose-as': { type: 'string', default: 'forger' },
    /** A pause after every burst of ten packets: spreads the forgery over the transfer. */
    'interval-ms': { type: 'string', default: '10' },
  },
});

const BURST = 10;

async function main(): Promise<void> {
  const taskId = args['task-id'];
  const iface = args.interface;
  if (!taskId || !iface) throw new Error('--task-id and --interface are required');
  const port = Number(args.port);
  const size = Number(args.size);
  const blockSize = Number(args['block-size']);
  const blocks = Math.max(1, Math.ceil(size / blockSize));
  const groupsPerBlock = Math.ceil(Math.ceil(blockSize / DEFAULT_SYMBOL_BYTES) / DEFAULT_GROUP_DATA_SYMBOLS);
  const dataCount = Number(args.data);
  const announceCount = Number(args.announces);
  const intervalMs = Number(args['interval-ms']);
  // The only thing the forger lacks: the task's key. A fresh one of the right length instead.
  const wrongKey = generateLanKey();
  const tagger = createPacketTagger(wrongKey);
  const header = { sessionId: sessionIdOf(taskId), senderId: senderIdOf(args['pose-as']) };

  const socket = createSocket({ type: 'udp4' });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, iface, () => resolve());
  });
  socket.setMulticastInterface(iface);
  socket.setMulticastTTL(MULTICAST_TTL);
  const send = (bytes: Uint8Array) =>
    new Promise<void>((resolve, reject) => socket.send(bytes, port, args.group, (error) => (error ? reject(error) : resolve())));

  const sent = { data: 0, announce: 0 };
  const total = dataCount + announceCount;
  // ANNOUNCEs spread evenly among the DATA packets.
  const announceEvery = announceCount > 0 ? Math.max(1, Math.floor(total / announceCount)) : Infinity;
  for (let n = 0; n < total; n++) {
    if (sent.announce < announceCount && (n % announceEvery === 0 || sent.data >= dataCount)) {
      const announce: AnnouncePacket = {
        type: 'announce',
        ...header,
        seq: 1_000_000 + sent.announce,
        phase: 'sending',
        weight: 255,
        contentId: args['content-id'],
        size,
        blockSize,
        symbolSize: DEFAULT_SYMBOL_BYTES,
        groupDataSymbols: DEFAULT_GROUP_DATA_SYMBOLS,
        proactiveParity: 0,
        startDelayMs: 0,
        rateKbps: 0,
        blocksReady: blocks,
        sendingBlock: 0,
      };
      await send(encodePacket(announce, tagger));
      sent.announce += 1;
    } else {
      // Full-size symbols at plausible addresses of every block, the ones being sent among them.
      const data: DataPacket = {
        type: 'data',
        ...header,
        block: sent.data % blocks,
        group: Math.floor(sent.data / blocks) % groupsPerBlock,
        index: sent.data % DEFAULT_GROUP_DATA_SYMBOLS,
        payload: randomBytes(DEFAULT_SYMBOL_BYTES),
      };
      await send(encodePacket(data, tagger));
      sent.data += 1;
    }
    if (n % BURST === BURST - 1) await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  socket.close();
  process.stdout.write(`${JSON.stringify({ forged: sent, key: Buffer.from(wrongKey).toString('hex').slice(0, 8) })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`lan-forger: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
