import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { inventoryScanV1Schema, NetworkInterface } from '@fleetcast/contracts';
import { RawInterfaces } from '../src/core/network-interfaces';
import { ContentCache } from '../src/adapters/content-cache';
import { collectInventory, readDefaultGateways, watchNetworkChanges } from '../src/adapters/inventory-collector';
import { makeContent, tempDir } from './support/content-fixture';
import { waitFor } from './support/wait-for';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function cacheWithOneFile(): Promise<{ cache: ContentCache; contentId: string }> {
  const { dir, remove } = await tempDir('inventory');
  cleanups.push(remove);
  const cache = await ContentCache.open(dir);
  const { data, manifest } = makeContent(1000, 512);
  const partial = await cache.openPartial(manifest);
  await partial.writeBlock(0, data.subarray(0, 512));
  await partial.writeBlock(1, data.subarray(512));
  await partial.complete();
  return { cache, contentId: manifest.contentId };
}

test('inventory: a scan of this machine is a valid contract message with loopback when asked', async () => {
  const { cache, contentId } = await cacheWithOneFile();
  const now = new Date('2025-02-03T04:05:06Z');
  const scan = await collectInventory({ deviceId: 'device-9', agentVersion: '0.1.0', cache, includeInternal: true }, 7, now);
  assert.ok(inventoryScanV1Schema.safeParse(scan).success);
  assert.equal(scan.deviceId, 'device-9');
  assert.equal(scan.scanSeq, 7);
  assert.equal(scan.scannedAt, '2025-02-03T04:05:06.000Z');
  assert.equal(scan.hostname, hostname());
  assert.equal(scan.platform, process.platform === 'win32' ? 'windows' : process.platform === 'darwin' ? 'macos' : 'linux');
  assert.deepEqual(scan.cache.contentIds, [contentId]);
  assert.ok(scan.cache.freeBytes > 0);
  const loopback = scan.interfaces.flatMap((n) => n.addresses).find((a) => a.address === '127.0.0.1');
  assert.deepEqual(loopback, { family: 'ipv4', address: '127.0.0.1', prefixLength: 8 });
});

test('inventory: without the flag, loopback is left out', async () => {
  const { cache } = await cacheWithOneFile();
  const scan = await collectInventory({ deviceId: 'device-9', agentVersion: '0.1.0', cache }, 1);
  assert.ok(scan.interfaces.every((n) => n.addresses.every((a) => a.address !== '127.0.0.1' && a.address !== '::1')));
});

test('inventory: gateways read from the routing table are addresses of interfaces the scan names', { skip: process.platform !== 'linux' }, async () => {
  const gateways = await readDefaultGateways();
  const { cache } = await cacheWithOneFile();
  const scan = await collectInventory({ deviceId: 'device-9', agentVersion: '0.1.0', cache, includeInternal: true }, 1);
  for (const [iface, gateway] of gateways) {
    const nic = scan.interfaces.find((n) => n.name === iface);
    if (nic) assert.equal(nic.gateway, gateway);
  }
});

test('network watch: fires once per change with the new set, not while unchanged, and not after stop', async () => {
  const address = (a: string) => ({ address: a, netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: `${a}/24` });
  let current: RawInterfaces = { eth0: [address('192.0.2.10')] };
  let reads = 0;
  const changes: NetworkInterface[][] = [];
  const watch = watchNetworkChanges(5, (interfaces) => changes.push(interfaces), {
    readInterfaces: () => {
      reads += 1;
      return current;
    },
  });
  try {
    await waitFor(() => reads >= 5, 'a few polls');
    assert.equal(changes.length, 0, 'nothing changed, nothing fired');
    current = { eth0: [address('198.51.100.20')] };
    await waitFor(() => changes.length === 1, 'the change');
    assert.equal(changes[0]![0]!.addresses[0]!.address, '198.51.100.20');
    const readsAfterChange = reads;
    await waitFor(() => reads >= readsAfterChange + 5, 'more polls');
    assert.equal(changes.length, 1, 'one change, one call');
  } finally {
    watch.stop();
  }
  const readsAtStop = reads;
  current = { eth0: [address('203.0.113.30')] };
  // After stop no poll runs: give a timer of the same interval time to tick several times (no fixed sleep).
  let ticks = 0;
  const ticker = setInterval(() => (ticks += 1), 5);
  try {
    await waitFor(() => ticks >= 5, 'other timers to run');
  } finally {
    clearInterval(ticker);
  }
  assert.equal(reads, readsAtStop);
  assert.equal(changes.length, 1);
});
