import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { PEER_PASS_HEADER, SignedPeerPass } from '@fleetcast/contracts';
import { MANIFEST_BLOCK_SIZE, PeerPassDocument, blockRange, generateSigningKey, publicKeyDerOf, signPeerPass, SigningKeyPair } from '@fleetcast/content';
import { checkPeerPass, encodePeerPass } from '../src/core/peer-pass-check';
import { PeerErrorCode } from '../src/core/peer-errors';
import { ContentCache } from '../src/adapters/content-cache';
import { PeerBlockServer } from '../src/adapters/peer-block-server';
import { PeerSource } from '../src/adapters/peer-source';
import { makeContent, tempDir } from './support/content-fixture';

/**
 * A peer block server that serves only devices showing a pass the control plane signed for its
 * office (or an office below it), and an upload rate cap, over real HTTP on 127.0.0.1. 4 MiB at the
 * production block size.
 */
const BS = MANIFEST_BLOCK_SIZE;
const BLOCKS = 4;
const { data, manifest } = makeContent(BLOCKS * BS, BS);
const controlPlane = generateSigningKey();
const trust = { keys: { keys: [{ keyId: controlPlane.keyId, publicKeyDer: Buffer.from(publicKeyDerOf(controlPlane.publicKey)).toString('base64') }], retiredKeyIds: [] } };
const cleanups: Array<() => Promise<void>> = [];
let cache: ContentCache;

function pass(doc: Partial<PeerPassDocument> = {}, key: SigningKeyPair = controlPlane): string {
  const document: PeerPassDocument = { deviceId: 'east-2', officeId: 'east', parentOfficeId: 'hq', issuedAt: new Date(Date.now() - 1000).toISOString(), expiresAt: new Date(Date.now() + 600_000).toISOString(), ...doc };
  const signed = signPeerPass(document, key);
  return encodePeerPass({ document, keyId: signed.keyId, signature: Buffer.from(signed.signature).toString('base64'), endorsements: [] } satisfies SignedPeerPass);
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function server(officeId: string, uploadRateKbps = 0): Promise<PeerBlockServer> {
  const s = await PeerBlockServer.start({ cache, host: '127.0.0.1', port: 0, uploadRateKbps, authorize: (header) => { const check = checkPeerPass(header, trust, officeId, Date.now()); return check.ok ? null : check.reason; } });
  cleanups.push(() => s.close());
  return s;
}

describe('peer passes and the upload cap at the peer block server (real HTTP)', () => {
  before(async () => {
    const { dir, remove } = await tempDir('peer-pass');
    cleanups.push(remove);
    cache = await ContentCache.open(dir);
    const partial = await cache.openPartial(manifest);
    for (let i = 0; i < BLOCKS; i++) {
      const { start, end } = blockRange(manifest, i);
      await partial.writeBlock(i, data.subarray(start, end));
    }
    await partial.complete();
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test('no pass: 401; a refused pass: 403 with the reason; nothing is read for either', async () => {
    const s = await server('east');
    const none = await get(`${s.url}/v1/blocks/${manifest.contentId}/0`);
    assert.equal(none.status, 401);
    assert.equal(JSON.parse(none.body.toString()).code, PeerErrorCode.PassMissing);
    const refusals: Array<[string, string, RegExp]> = [
      ['another office', pass({ officeId: 'west', parentOfficeId: 'hq' }), /neither this office/],
      ['a key the device does not pin', pass({}, generateSigningKey()), /does not pin/],
      ['an expired pass', pass({ issuedAt: new Date(Date.now() - 3_600_000).toISOString(), expiresAt: new Date(Date.now() - 1_200_000).toISOString() }), /expired/],
      ['garbage', 'garbage', /not/],
    ];
    for (const [what, header, reason] of refusals) {
      const res = await get(`${s.url}/v1/blocks/${manifest.contentId}`, { [PEER_PASS_HEADER]: header });
      assert.equal(res.status, 403, what);
      const body = JSON.parse(res.body.toString());
      assert.equal(body.code, PeerErrorCode.PassRefused, what);
      assert.match(body.message, reason, what);
    }
    assert.equal(s.stats.refused, 1 + refusals.length);
    assert.equal(s.stats.blocksServed + s.stats.holdingsServed, 0);
  });

  test('a pass of its office, or of an office below it, is served; a PeerSource with the pass fetches every block verified', async () => {
    const s = await server('east');
    assert.equal((await get(`${s.url}/v1/blocks/${manifest.contentId}/1`, { [PEER_PASS_HEADER]: pass() })).status, 200);
    const parent = await server('hq');
    assert.equal((await get(`${parent.url}/v1/blocks/${manifest.contentId}/1`, { [PEER_PASS_HEADER]: pass() })).status, 200, "the parent office serves its child's device");

    const got = new Map<number, Buffer>();
    const source = new PeerSource({ peers: [s.url], headers: () => ({ [PEER_PASS_HEADER]: pass() }) });
    await source.fetchBlocks({ manifest, blocks: [0, 1, 2, 3], signal: new AbortController().signal, sink: async (i, d) => void got.set(i, Buffer.from(d)) });
    source.close();
    assert.deepEqual([...got.keys()].sort(), [0, 1, 2, 3]);
    assert.ok(Buffer.concat([0, 1, 2, 3].map((i) => got.get(i)!)).equals(data));
  });

  test('the upload cap holds over several uploads at once', async () => {
    // 4 blocks of 1 MiB at 16,000 kbit/s: at least 3 blocks' wire time (the first goes at once), ~1.57 s.
    const rateKbps = 16_000;
    const s = await server('east', rateKbps);
    const startedAt = Date.now();
    const results = await Promise.all([0, 1, 2, 3].map((i) => get(`${s.url}/v1/blocks/${manifest.contentId}/${i}`, { [PEER_PASS_HEADER]: pass() })));
    const elapsedMs = Date.now() - startedAt;
    assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200]);
    const floorMs = ((3 * BS * 8) / rateKbps) * 0.95;
    assert.ok(elapsedMs >= floorMs, `4 blocks in ${elapsedMs} ms under a ${rateKbps} kbit/s cap: at least ${floorMs.toFixed(0)} ms`);
  });
});
