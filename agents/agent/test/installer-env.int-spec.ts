import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, NatsConnection } from 'nats';
import { Streams, TaskAssignedV2 } from '@fleetcast/contracts';
import { generateSigningKey, publicKeyDerOf, signManifest } from '@fleetcast/content';
import { encodeJson, ensureStreams } from '@fleetcast/nats';
import { NatsServer, NodeProcess, provisionDeviceCreds, spawnNodeProcess, startNatsServer, stopAll } from '@fleetcast/testing';
import { PACKAGE_PATH_ENV } from '../src/adapters/installer';
import { answerAgentQueries, installDocument, signedAssignment } from './support/control-plane-stand-in';
import { makeContent, tempDir } from './support/content-fixture';
import { startTestOrigin, TestOrigin } from './support/test-origin';
import { waitFor } from './support/wait-for';

/**
 * What an install command sees of the agent's environment: the agent runs as its own process (the
 * CLI) with a secret-looking variable and a marker path in its environment, and `--installer-env
 * MARKER_FILE`. The install command, run from a real signed assignment, writes its whole
 * environment to the marker file.
 */
const DEVICE = 'env-dev-1';

let nats: NatsServer;
let nc: NatsConnection;
let origin: TestOrigin;
let agent: NodeProcess;
let work: string;
let removeWork: () => Promise<void>;
const cpKey = generateSigningKey();
const content = makeContent(64 * 1024 + 5);

function assignment(taskId: string): TaskAssignedV2 {
  // Where to write comes from the environment, as the e2e tests and the demo do it.
  const doc = installDocument(DEVICE, taskId, content.manifest, {
    installCommand: process.execPath,
    installArgs: ['-e', 'require("fs").writeFileSync(process.env.MARKER_FILE, JSON.stringify(process.env))'],
  });
  return signedAssignment(doc, cpKey, { package: { packageId: 'pkg-env', name: 'env-dump', version: '1.0.0', platform: 'linux', downloadUrl: origin.url } });
}

describe('install commands run with a minimal environment (the agent as a process, real NATS)', () => {
  before(async () => {
    nats = await startNatsServer();
    nc = await connect(nats.adminConnectOptions());
    await ensureStreams(nc, [Streams.taskAssignments, Streams.deviceStatus, Streams.inventoryScans]);
    ({ dir: work, remove: removeWork } = await tempDir('installer-env'));
    origin = await startTestOrigin({ data: content.data, etag: `"${content.manifest.contentId}"` });
    const signedManifest = signManifest(content.manifest, cpKey);
    await answerAgentQueries(nc, () => signedManifest);
    agent = await spawnNodeProcess(join(__dirname, '..', 'src', 'cli.js'), {
      name: 'agent-env',
      args: [
        'run',
        '--nats', nats.url,
        '--nats-creds', await provisionDeviceCreds(nats.trust!.dir, DEVICE, join(work, 'creds')),
        '--device-id', DEVICE,
        '--state-dir', join(work, 'state'),
        '--cache-dir', join(work, 'cache'),
        '--include-loopback',
        '--no-multicast',
        '--control-plane-key', Buffer.from(publicKeyDerOf(cpKey.publicKey)).toString('base64'),
        '--installer-env', 'MARKER_FILE',
        '--installer-env', 'EXTRA_ALLOWED',
      ],
      env: {
        LOG_LEVEL: 'info',
        FLEETCAST_TEST_SECRET: 'this-must-not-reach-installers',
        NATS_PASSWORD: 'nor-this',
        MARKER_FILE: join(work, 'env.json'),
        EXTRA_ALLOWED: 'yes',
        // A package path in the agent's own environment is not what the installer gets.
        [PACKAGE_PATH_ENV]: '/not/the/package',
      },
    });
    await agent.waitForOutput(/agent ready/, { timeoutMs: 20_000 });
  });

  after(async () => {
    await agent?.stop();
    await nc?.close();
    await origin?.close();
    await stopAll();
    await removeWork?.();
  });

  test('a secret in the agent\'s environment does not reach the install command; PATH, the package path and --installer-env names do', async () => {
    await nc.jetstream().publish(TaskAssignedV2.subject(DEVICE), encodeJson(assignment('task-env')));
    const env = await waitFor(async () => JSON.parse(await readFile(join(work, 'env.json'), 'utf8')) as Record<string, string>, 'the install command ran', 30_000, 100).catch((error: Error) => {
      throw new Error(`${error.message}\n${agent.describe()}`);
    });
    assert.equal(env['FLEETCAST_TEST_SECRET'], undefined, 'the secret stayed with the agent');
    assert.equal(env['NATS_PASSWORD'], undefined);
    assert.equal(env['LOG_LEVEL'], undefined, 'nor anything else the agent was started with');
    assert.equal(env['MARKER_FILE'], join(work, 'env.json'), 'passed by --installer-env');
    assert.equal(env['EXTRA_ALLOWED'], 'yes');
    assert.equal(env['PATH'], process.env['PATH']);
    assert.match(env[PACKAGE_PATH_ENV] ?? '', new RegExp(`${content.manifest.contentId}$`), 'the verified file in the cache');
    const unexpected = Object.keys(env).filter((name) => !['PATH', 'HOME', 'USER', 'LOGNAME', 'TMPDIR', 'TZ', 'LANG', 'MARKER_FILE', 'EXTRA_ALLOWED', PACKAGE_PATH_ENV].includes(name) && !name.startsWith('LC_'));
    assert.deepEqual(unexpected, [], 'nothing outside the allowlist');
  });
});
