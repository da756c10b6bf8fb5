import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect, NatsConnection } from 'nats';
import { ContentDeletionsDocument, RpcReply, SignedContentDeletions, Streams, TasksDeviceRpc } from '@fleetcast/contracts';
import { generateSigningKey, signContentDeletions, SigningKeyPair } from '@fleetcast/content';
import { encodeJson, ensureStreams } from '@fleetcast/nats';
import { NatsServer, startNatsServer, stopAll } from '@fleetcast/testing';
import { AgentDaemon } from '../src/daemon';
import { ContentCache } from '../src/adapters/content-cache';
import { ContentFixture, makeContent, tempDir } from './support/content-fixture';
import { waitFor } from './support/wait-for';
import { startTestAgent } from './support/test-agent';

/**
 * The real daemon over real NATS (the device with its own credentials), its cache on disk holding two
 * packages' content. The test plays the control plane's deletion notices, which the agent asks for
 * at every inventory scan (every second here): a notice not signed by the pinned key, or signed for
 * another device, removes nothing; a notice signed for this device removes what it names, and only that.
 */
const DEVICE = 'deletions-dev-1';

let nats: NatsServer;
let nc: NatsConnection;
let daemon: AgentDaemon;
let cache: ContentCache;
let work: string;
let removeWork: () => Promise<void>;
const cpKey = generateSigningKey();
const strangerKey = generateSigningKey();
const deleted = makeContent(200 * 1024 + 3);
const kept = makeContent(100 * 1024 + 1);
/** What the stand-in answers the next request with. */
let answer: () => SignedContentDeletions;
let requests = 0;

function notice(key: SigningKeyPair, document: Partial<ContentDeletionsDocument> = {}): SignedContentDeletions {
  const doc: ContentDeletionsDocument = {
    deviceId: DEVICE,
    contentIds: [deleted.manifest.contentId],
    issuedAt: new Date(Date.now() - 1000).toISOString(),
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    ...document,
  };
  const signed = signContentDeletions(doc, key);
  return { document: doc, keyId: signed.keyId, signature: Buffer.from(signed.signature).toString('base64'), endorsements: [] };
}

async function putInCache(content: ContentFixture): Promise<void> {
  const partial = await cache.openPartial(content.manifest);
  const { blockSize } = content.manifest;
  for (let i = 0; i * blockSize < content.data.length; i++) await partial.writeBlock(i, content.data.subarray(i * blockSize, (i + 1) * blockSize));
  await partial.complete();
}

/** Waits for `count` more notices to be asked for (so that the agent has acted on the current answer). */
async function nextRequests(count: number): Promise<void> {
  const target = requests + count;
  await waitFor(() => requests >= target, `${count} more deletion notice requests`, 15_000, 20);
}

describe('deletion notices: the real agent removes deleted content only on a notice it can verify', () => {
  before(async () => {
    nats = await startNatsServer();
    nc = await connect(nats.adminConnectOptions());
    await ensureStreams(nc, [Streams.taskAssignments, Streams.deviceStatus, Streams.inventoryScans]);
    ({ dir: work, remove: removeWork } = await tempDir('content-deletions'));
    cache = await ContentCache.open(join(work, 'cache'));
    await putInCache(deleted);
    await putInCache(kept);

    answer = () => notice(strangerKey);
    nc.subscribe(TasksDeviceRpc.getContentDeletions.subject, {
      callback: (_e, m) => {
        requests++;
        m.respond(encodeJson({ ok: true, data: answer() } satisfies RpcReply));
      },
    });
    await nc.flush();

    daemon = await startTestAgent(nats, { deviceId: DEVICE, work, controlPlaneKey: cpKey.publicKey, scanIntervalSeconds: 1, statusPort: undefined, logLevel: 'error' });
  });

  after(async () => {
    await daemon?.stop();
    await nc?.close();
    await stopAll();
    await removeWork?.();
  });

  test('a notice signed by a key the device does not pin removes nothing', async () => {
    answer = () => notice(strangerKey);
    await nextRequests(2);
    assert.equal(await cache.has(deleted.manifest.contentId), true);
  });

  test('a notice signed by the pinned key for another device, or altered, removes nothing', async () => {
    answer = () => notice(cpKey, { deviceId: 'someone-else' });
    await nextRequests(2);
    answer = () => ({ ...notice(cpKey, { contentIds: [] }), document: { ...notice(cpKey).document } });
    await nextRequests(2);
    assert.equal(await cache.has(deleted.manifest.contentId), true);
  });

  test('a notice signed for this device removes the content it names at the next scan, and nothing else', async () => {
    answer = () => notice(cpKey);
    await waitFor(async () => !(await cache.has(deleted.manifest.contentId)), 'the deleted content to leave the cache', 15_000, 50);
    assert.equal(await cache.has(kept.manifest.contentId), true, 'content the notice does not name stays');
    assert.deepEqual(await cache.list(), [kept.manifest.contentId]);
  });
});
