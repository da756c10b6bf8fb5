import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockHasher, MANIFEST_BLOCK_SIZE, verifyBlock } from '@fleetcast/content';
import { DEFAULT_GROUP_DATA_SYMBOLS, DEFAULT_SYMBOL_BYTES } from '../protocol/constants';
import { DataPacket, ParityPacket, decodePacket, encodePacket } from '../protocol/packets';
import {
  SessionLayout,
  blockCountOf,
  blockLength,
  groupDataCount,
  groupKey,
  groupOfKey,
  groupsInBlock,
  layoutError,
  symbolSpan,
  symbolsInBlock,
} from './block-layout';
import { createErasureCoder } from './fec';
import { seededRandom } from './seeded-random';

// Groups of 32 make the arithmetic below easy to follow; the default group size has its own test.
const DEFAULT: SessionLayout = { size: 3 * MANIFEST_BLOCK_SIZE + 5000, blockSize: MANIFEST_BLOCK_SIZE, symbolSize: DEFAULT_SYMBOL_BYTES, groupDataSymbols: 32 };

test('layout of 1 MiB blocks in 1,400-byte symbols, 32 to a group', () => {
  assert.equal(layoutError(DEFAULT), null);
  assert.equal(blockCountOf(DEFAULT), 4);
  // 1,048,576 / 1,400 = 748.98: 749 symbols, the last of 1,376 bytes; 23 full groups and one of 13.
  assert.equal(symbolsInBlock(DEFAULT, 0), 749);
  assert.equal(groupsInBlock(DEFAULT, 0), 24);
  assert.equal(groupDataCount(DEFAULT, 0, 0), 32);
  assert.equal(groupDataCount(DEFAULT, 0, 23), 13);
  assert.equal(groupDataCount(DEFAULT, 0, 24), 0);
  assert.deepEqual(symbolSpan(DEFAULT, 0, 23, 12), { start: 748 * 1400, end: MANIFEST_BLOCK_SIZE });
  // The last block: 5,000 bytes = 4 symbols (the last of 800), one group of 4.
  assert.equal(blockLength(DEFAULT, 3), 5000);
  assert.equal(symbolsInBlock(DEFAULT, 3), 4);
  assert.equal(groupsInBlock(DEFAULT, 3), 1);
  assert.equal(groupDataCount(DEFAULT, 3, 0), 4);
  assert.deepEqual(symbolSpan(DEFAULT, 3, 0, 3), { start: 4200, end: 5000 });
  assert.equal(blockLength(DEFAULT, 4), 0, 'past the end');
});

test('the default layout: 1 MiB blocks in groups of 128, the last of 109', () => {
  const layout: SessionLayout = { ...DEFAULT, groupDataSymbols: DEFAULT_GROUP_DATA_SYMBOLS };
  assert.equal(DEFAULT_GROUP_DATA_SYMBOLS, 128);
  assert.equal(groupsInBlock(layout, 0), 6);
  assert.equal(groupDataCount(layout, 0, 5), 749 - 5 * 128);
});

test('layout errors and group keys', () => {
  assert.match(layoutError({ ...DEFAULT, symbolSize: 1422 }) ?? '', /symbol size/);
  assert.match(layoutError({ ...DEFAULT, groupDataSymbols: 0 }) ?? '', /data symbols/);
  assert.match(layoutError({ ...DEFAULT, blockSize: 2 ** 31, symbolSize: 1, groupDataSymbols: 1 }) ?? '', /65536/);
  assert.match(layoutError({ ...DEFAULT, size: -1 }) ?? '', /size/);
  assert.equal(layoutError({ ...DEFAULT, size: 0 }), null);
  assert.equal(blockCountOf({ ...DEFAULT, size: 0 }), 0);
  for (const [block, group] of [[0, 0], [1, 65535], [2 ** 32 - 1, 65535], [7, 3]]) {
    assert.deepEqual(groupOfKey(groupKey(block, group)), { block, group });
  }
  assert.ok(groupKey(1, 0) > groupKey(0, 65535), 'keys order as (block, group)');
});

test('a block crosses the codec and the erasure code with losses, and verifies against the manifest', () => {
  const random = seededRandom(21);
  const content = Uint8Array.from({ length: DEFAULT.size }, () => Math.floor(random() * 256));
  const hasher = new BlockHasher(DEFAULT.blockSize);
  hasher.update(content);
  const manifest = hasher.finish();
  const header = { sessionId: '0123456789abcdef', senderId: 'fedcba9876543210' };

  for (const block of [0, 3]) {
    const start = block * DEFAULT.blockSize;
    const bytes = content.subarray(start, start + blockLength(DEFAULT, block));
    // Sender: every group's data symbols and two parity symbols, as datagrams.
    const wire: Uint8Array[] = [];
    for (let group = 0; group < groupsInBlock(DEFAULT, block); group++) {
      const k = groupDataCount(DEFAULT, block, group);
      const data = Array.from({ length: k }, (_, i) => {
        const span = symbolSpan(DEFAULT, block, group, i);
        return bytes.subarray(span.start, span.end);
      });
      data.forEach((payload, index) => wire.push(encodePacket({ ...header, type: 'data', block, group, index, payload })));
      createErasureCoder(k, 2)
        .encode(data)
        .forEach((payload, index) => wire.push(encodePacket({ ...header, type: 'parity', block, group, index, payload })));
    }
    // Receiver: data symbol 1 of every group lost, and 5 % of the rest, never more than a group's two parity symbols cover.
    const groups = new Map<number, Map<number, Uint8Array>>();
    const lostPerGroup = new Map<number, number>();
    for (const datagram of wire) {
      const decoded = decodePacket(datagram);
      assert.ok(decoded.ok);
      const packet = decoded.value as DataPacket | ParityPacket;
      const key = groupKey(packet.block, packet.group);
      const lose = (packet.type === 'data' && packet.index === 1) || random() < 0.05;
      if (lose && (lostPerGroup.get(key) ?? 0) < 2) {
        lostPerGroup.set(key, (lostPerGroup.get(key) ?? 0) + 1);
        continue;
      }
      const k = groupDataCount(DEFAULT, packet.block, packet.group);
      const symbols = groups.get(key) ?? new Map<number, Uint8Array>();
      symbols.set(packet.type === 'data' ? packet.index : k + packet.index, packet.payload);
      groups.set(key, symbols);
    }
    const rebuilt = new Uint8Array(bytes.length);
    for (let group = 0; group < groupsInBlock(DEFAULT, block); group++) {
      const k = groupDataCount(DEFAULT, block, group);
      const decoded = createErasureCoder(k, 2).decode(groups.get(groupKey(block, group)) as Map<number, Uint8Array>);
      assert.ok(decoded, `block ${block} group ${group}`);
      decoded.forEach((symbol, i) => {
        const span = symbolSpan(DEFAULT, block, group, i);
        rebuilt.set(symbol.subarray(0, span.end - span.start), span.start);
      });
    }
    assert.equal(lostPerGroup.size, groupsInBlock(DEFAULT, block), 'every group lost something');
    assert.ok(verifyBlock(manifest, block, rebuilt), `block ${block} verifies`);
  }
});
