import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, NatsConnection } from 'nats';
import { ContentKey, DEFAULT_AGENT_SETTINGS, RpcReply, Streams, TaskAssignedV2, TasksDeviceRpc, TasksRpc } from '@fleetcast/contracts';
import {
  BlockHasher,
  CONFIDENTIAL_SCHEME,
  generateContentKey,
  generateSigningKey,
  MANIFEST_BLOCK_SIZE,
  Manifest,
  sealBlock,
  sealedBlockCount,
  SEALED_PLAIN_BLOCK_SIZE,
  signManifest,
  Signed,
  toWire,
} from '@fleetcast/content';
import { encodeJson, ensureStreams } from '@fleetcast/nats';
import { NatsServer, startNatsServer, stopAll } from '@fleetcast/testing';
import { AgentDaemon } from '../src/daemon';
import { answerContentKeys, installDocument, signedAssignment, statusReportsOf } from './support/control-plane-stand-in';
import { tempDir } from './support/content-fixture';
import { startTestOrigin, TestOrigin } from './support/test-origin';
import { waitFor } from './support/wait-for';
import { startTestAgent } from './support/test-agent';

/**
 * Confidential packages on the real agent over real NATS (operator mode, the device with its own
 * credentials), the test playing the control plane and the origin: the agent downloads and caches
 * the sealed content as any other (verified against the manifest of the ciphertext), asks for the
 * key at install, opens the content into the install work directory only, and runs the command on
 * the plaintext. Without the key (not a target) or with a wrong one, nothing is opened or run.
 */
const DEVICE = 'conf-dev-1';
const MARKER = Buffer.from('FLEETCAST-CONFIDENTIAL-MARKER-agent;');
const cpKey = generateSigningKey();

interface SealedPackage {
  packageId: string;
  plain: Buffer;
  sealed: Buffer;
  key: Buffer;
  signed: Signed<Manifest>;
  origin?: TestOrigin;
}

/** A confidential package as the control plane makes it: plaintext with the marker, sealed under a fresh key, a manifest over the ciphertext. */
function sealedPackage(packageId: string, plainSize: number): SealedPackage {
  const plain = Buffer.concat(Array.from({ length: Math.ceil(plainSize / MARKER.length) }, () => MARKER)).subarray(0, plainSize);
  const key = generateContentKey();
  const blockCount = sealedBlockCount(plain.length);
  const sealed = Buffer.concat(
    Array.from({ length: blockCount }, (_, i) => sealBlock(key, { packageId, blockIndex: i, blockCount }, plain.subarray(i * SEALED_PLAIN_BLOCK_SIZE, (i + 1) * SEALED_PLAIN_BLOCK_SIZE))),
  );
  const hasher = new BlockHasher(MANIFEST_BLOCK_SIZE);
  hasher.update(sealed);
  return { packageId, plain, sealed, key, signed: signManifest(hasher.finish(), cpKey) };
}

const given = sealedPackage('11111111-1111-4111-8111-111111111111', 2 * MANIFEST_BLOCK_SIZE + 4321);
const refused = sealedPackage('22222222-2222-4222-8222-222222222222', 300_000);
const wrongKey = sealedPackage('33333333-3333-4333-8333-333333333333', 200_000);
const all = [given, refused, wrongKey];

let nats: NatsServer;
let nc: NatsConnection;
let daemon: AgentDaemon;
let work: string;
let removeWork: () => Promise<void>;
let keyRequests: () => string[];

const keyOf = (p: SealedPackage, key = p.key): ContentKey => ({ contentId: p.signed.value.contentId, packageId: p.packageId, scheme: CONFIDENTIAL_SCHEME, key: key.toString('base64') });

/** The install command copies the file it is given next to the work directory, and says where it ran. */
function assign(taskId: string, p: SealedPackage) {
  const out = join(work, `${taskId}.installed`);
  const command = {
    installCommand: process.execPath,
    installArgs: ['-e', "const fs=require('fs');fs.copyFileSync(process.argv[1],process.argv[2]);fs.writeFileSync(process.argv[2]+'.from',process.argv[1])", '{package}', out],
  };
  const doc = installDocument(DEVICE, taskId, p.signed.value, command);
  doc.package.confidential = true;
  const message: TaskAssignedV2 = signedAssignment(doc, cpKey, { package: { packageId: p.packageId, name: 'secret', version: '1.0.0', platform: 'linux', downloadUrl: p.origin!.url } });
  return nc.jetstream().publish(TaskAssignedV2.subject(DEVICE), encodeJson(message));
}

const finalReport = (taskId: string) =>
  waitFor(async () => (await statusReportsOf(nc, taskId)).find((r) => r.state === 'succeeded' || r.state === 'failed'), `task ${taskId} finished`, 30_000, 100);

describe('confidential packages: the real agent over real NATS', () => {
  before(async () => {
    nats = await startNatsServer();
    nc = await connect(nats.adminConnectOptions());
    await ensureStreams(nc, [Streams.taskAssignments, Streams.deviceStatus, Streams.inventoryScans]);
    ({ dir: work, remove: removeWork } = await tempDir('confidential'));
    for (const p of all) p.origin = await startTestOrigin({ data: p.sealed, etag: `"${p.signed.value.contentId}"` });
    const reply = (data: unknown): Uint8Array => encodeJson({ ok: true, data } satisfies RpcReply);
    for (const subject of [TasksDeviceRpc.getManifest.subject, TasksRpc.getManifest.subject]) {
      nc.subscribe(subject, {
        callback: (_e, m) => {
          const { contentId } = JSON.parse(Buffer.from(m.data).toString()) as { contentId: string };
          m.respond(reply(toWire(all.find((p) => p.signed.value.contentId === contentId)!.signed)));
        },
      });
    }
    nc.subscribe(TasksDeviceRpc.getDownloadToken.subject, { callback: (_e, m) => m.respond(reply({ token: null, expiresAt: null })) });
    for (const subject of [TasksDeviceRpc.getSettings.subject, TasksRpc.getDeviceSettings.subject]) {
      nc.subscribe(subject, { callback: (_e, m) => m.respond(reply({ ...DEFAULT_AGENT_SETTINGS, profileId: 'default' })) });
    }
    ({ requests: keyRequests } = await answerContentKeys(
      nc,
      new Map([
        [given.signed.value.contentId, keyOf(given)],
        // A key, but not this content's: what a device would try with a key of another package.
        [wrongKey.signed.value.contentId, keyOf(wrongKey, generateContentKey())],
      ]),
    ));
    daemon = await startTestAgent(nats, { deviceId: DEVICE, work, controlPlaneKey: cpKey.publicKey });
  });

  after(async () => {
    await daemon?.stop();
    await nc?.close();
    for (const p of all) await p.origin?.close();
    await stopAll();
    await removeWork?.();
  });

  test('a target installs the plaintext; the cache and the wire hold only ciphertext; the plaintext goes with the work directory', async () => {
    await assign('task-given', given);
    const last = await finalReport('task-given');
    assert.equal(last.state, 'succeeded', JSON.stringify(last.reason));
    assert.ok((await readFile(join(work, 'task-given.installed'))).equals(given.plain), 'the installer got the plaintext');
    const ranOn = await readFile(join(work, 'task-given.installed.from'), 'utf8');
    assert.ok(ranOn.startsWith(join(work, 'state', 'work')), `the plaintext was in the install work directory, not the cache (${ranOn})`);
    const cached = await readFile(join(work, 'cache', 'content', given.signed.value.contentId));
    assert.ok(cached.equals(given.sealed), 'the cache holds the ciphertext');
    assert.equal(cached.indexOf(MARKER), -1);
    assert.equal(given.sealed.indexOf(MARKER), -1, 'nor did the origin send any plaintext');
    assert.deepEqual(await readdir(join(work, 'state', 'work')), [], 'the work directory, with the plaintext, is removed');
    assert.ok(keyRequests().includes(given.signed.value.contentId));
  });

  test('a device the control plane gives no key (not a target) downloads the ciphertext but opens and runs nothing', async () => {
    await assign('task-refused', refused);
    const last = await finalReport('task-refused');
    assert.deepEqual([last.state, last.reason?.code], ['failed', 'INSTALL.CONTENT_KEY_UNAVAILABLE']);
    assert.match(last.reason!.message, /TASKS\.NOT_A_TARGET/);
    assert.ok((await readFile(join(work, 'cache', 'content', refused.signed.value.contentId))).equals(refused.sealed), 'the verified ciphertext is cached');
    await assert.rejects(readFile(join(work, 'task-refused.installed')), 'nothing ran');
  });

  test('content that does not open with the key given is refused before anything runs', async () => {
    await assign('task-wrong-key', wrongKey);
    const last = await finalReport('task-wrong-key');
    assert.deepEqual([last.state, last.reason?.code], ['failed', 'INSTALL.SEALED_CONTENT_INVALID']);
    await assert.rejects(readFile(join(work, 'task-wrong-key.installed')), 'nothing ran');
    assert.deepEqual(await readdir(join(work, 'state', 'work')), [], 'no partial plaintext left');
  });
});
