#!/usr/bin/env node
// Screenshots of the web console's main views for docs/console.md, taken in Debian's chromium
// (driven by playwright-core) against a stack started here, as the end-to-end tests start it:
// NATS, a throwaway database on the local PostgreSQL, every service, three agents. It uploads a
// sample package, installs it through the agents' LAN session (loopback multicast, as
// `npm run demo` does: do not run it beside the multicast tests or the lab), then saves
//   docs/console/overview.png, packages.png, task-create.png, task.png (1366x768 viewport, full page).
// Run after `npm run build`:  node scripts/console-screenshots.mjs [--out docs/console]
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: opts } = parseArgs({ options: { out: { type: 'string', default: join(root, 'docs', 'console') } } });
const out = resolve(opts.out);
const testing = await import(`${root}/libs/testing/dist/index.js`);
const { chromium } = createRequire(join(root, 'tests', 'e2e', 'package.json'))('playwright-core');
const say = (msg) => console.log(`[screenshots] ${msg}`);
const cleanups = [];
const VIEWPORT = { width: 1366, height: 768 };

function chromiumPath() {
  for (const path of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) if (path && existsSync(path)) return path;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('no chromium found: apt-get install --no-install-recommends chromium (or set CHROMIUM_PATH)');
  }
}

async function main() {
  if (!existsSync(join(root, 'apps/console/dist/web/index.html'))) throw new Error('the console is not built: run npm run build first');
  const work = join(root, '.fleetcast', 'console-screenshots');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'markers'), { recursive: true });
  const nats = await testing.startNatsServer();
  cleanups.push(() => nats.stop());
  const db = await testing.createTestDatabase('console_screenshots');
  cleanups.push(() => db.drop());
  const token = randomBytes(16).toString('hex');
  const cp = await testing.startControlPlane({ natsUrl: nats.url, trustDir: nats.trust.dir, agentCredentials: 'enrollment', databaseUrl: db.url, workDir: join(work, 'control-plane'), apiToken: token });
  cleanups.push(() => cp.stop());
  const api = new testing.ApiClient(cp.gatewayUrl, token);
  say(`stack up: console at ${cp.gatewayUrl}/console/`);

  const run = randomBytes(2).toString('hex');
  const devices = ['a', 'b', 'c'].map((s) => `laptop-${run}-${s}`);
  const lanArgs = ['--multicast', '--lan-interface', '127.0.0.1', '--multicast-port', String(46000 + (process.pid % 400)), '--peer-port', '0'];
  for (const id of devices) {
    const proc = await testing.startAgentProcess({ natsUrl: nats.url, controlPlane: cp, deviceId: id, dir: join(work, 'agents', id), args: [...lanArgs, '--installer-env', 'MARKER_FILE'], env: { MARKER_FILE: join(work, 'markers', id) } });
    cleanups.push(() => proc.stop());
    await proc.waitForOutput(/agent ready/, { timeoutMs: 30000 });
  }
  await testing.waitFor(async () => (await api.ok('GET', '/v1/devices')).total === devices.length, { timeoutMs: 20000, description: 'agents in the inventory' });

  // A package and a finished task through the LAN session, so that the task page and the savings chart have figures.
  const sample = join(work, 'editor.tar');
  writeFileSync(sample, randomBytes(12 * 1024 * 1024));
  const pkg = await api.ok('POST', '/v1/packages', { name: 'text-editor', version: '2.4.1', platform: 'linux', installCommand: '/bin/sh', installArgs: ['-c', 'sha256sum "$FLEETCAST_PACKAGE_PATH" > "$MARKER_FILE"'], timeoutSeconds: 120 });
  const { createReadStream } = await import('node:fs');
  const uploaded = await api.upload(pkg.id, createReadStream(sample));
  if (uploaded.status !== 200) throw new Error(`upload: ${uploaded.status} ${JSON.stringify(uploaded.body)}`);
  await api.ok('POST', '/v1/packages', { name: 'vpn-client', version: '5.0.0', platform: 'windows', installCommand: 'msiexec', installArgs: ['/i', 'vpn.msi', '/qn'] });
  const profile = await api.ok('POST', '/v1/profiles', { name: 'branch offices: multicast, 5 s start delay', useMulticast: true, sessionStartDelaySeconds: 5 });
  const task = await api.ok('POST', '/v1/tasks', { name: 'text-editor 2.4.1 to the laptops', packageId: pkg.id, action: 'install', targets: { deviceIds: devices }, profileId: profile.id });
  await testing.waitFor(async () => {
    const s = await api.ok('GET', `/v1/tasks/${task.id}/summary`);
    return s.counts.succeeded + s.counts.failed === s.total;
  }, { timeoutMs: 180000, intervalMs: 1000, description: 'the task finished' });
  say(`task ${task.id} finished`);

  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  cleanups.push(() => browser.close());
  const page = await (await browser.newContext({ viewport: VIEWPORT })).newPage();
  mkdirSync(out, { recursive: true });
  const shot = async (name) => {
    // The pages poll; a moment for the last answer to be drawn.
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
    say(`saved ${join(out, `${name}.png`)}`);
  };
  await page.goto(`${cp.gatewayUrl}/console/`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'WAN bytes saved per subnet' }).waitFor();
  await page.locator('.chart svg').first().waitFor();
  await shot('overview');

  // An upload through the form: the page then shows its bar at 100 % and the new package's manifest.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Packages' }).click();
  await page.getByRole('rowheader', { name: 'text-editor' }).waitFor();
  const driver = join(work, 'print-driver.pkg');
  writeFileSync(driver, randomBytes(6 * 1024 * 1024));
  await page.getByLabel('File').setInputFiles(driver);
  await page.getByLabel('Name').fill('print-driver');
  await page.getByLabel('Version').fill('1.2.0');
  await page.getByLabel('Install command').fill('/usr/sbin/install-driver');
  await page.getByLabel('Arguments (one per line)').fill('--quiet');
  await page.getByRole('button', { name: 'Upload', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'is ready' }).waitFor({ timeout: 60000 });
  await page.locator('#package-details').getByText('Signing key').waitFor();
  await shot('packages');

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'New task' }).click();
  await page.getByLabel('Package').selectOption(pkg.id);
  await page.getByLabel('Name (optional)').fill('text-editor to every online laptop');
  await page.getByRole('button', { name: /Use all \d+ online devices/ }).click();
  await page.getByLabel('Settings profile').selectOption(profile.id);
  await shot('task-create');

  await page.goto(`${cp.gatewayUrl}/console/tasks/${task.id}`);
  await page.getByText('· finished').waitFor();
  await page.getByRole('button', { name: `History of ${devices[0]}` }).click();
  await page.getByRole('list', { name: `History of ${devices[0]}` }).getByText('succeeded').waitFor();
  await shot('task');
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  console.error(`[screenshots] failed: ${error.message}`);
} finally {
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
}
process.exit(failed ? 1 : 0);
