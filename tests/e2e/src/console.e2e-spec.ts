import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Task } from '@fleetcast/contracts';
import {
  ApiClient,
  ControlPlane,
  createTestDatabase,
  NatsServer,
  REPO_ROOT,
  startAgentProcess,
  startControlPlane,
  startNatsServer,
  stopAll,
  TestDatabase,
  waitFor,
} from '@fleetcast/testing';
import { LAPTOP_VIEWPORT, launchChromium } from './support/browser';

/**
 * The web console in a real browser (Debian's chromium through playwright-core) against the whole
 * stack, served by the gateway at /console: sign in, upload a package with the progress bar to
 * 100 %, create a task against two agents, watch both devices reach succeeded on the live task page,
 * read the bytes by source and the LAN session section; a read-only token is offered no write action.
 */
const MB = 1024 * 1024;
const ADMIN = `e2e-console-${randomBytes(8).toString('hex')}`;
const READER = `e2e-console-reader-${randomBytes(8).toString('hex')}`;
const DEVICES = ['console-dev-1', 'console-dev-2'];
const PACKAGE_BYTES = 8 * MB;

let nats: NatsServer;
let db: TestDatabase;
let work: string;
let cp: ControlPlane;
let api: ApiClient;
let browser: Browser;
let consoleUrl: string;
/** The package the upload test made, and its task: the later tests use them. */
let packageId: string;
let taskId: string;

const markerOf = (id: string) => join(work, 'markers', `${id}.installed`);

/**
 * Errors the browser reports for a page (a CSP violation above all; the console uses no inline
 * script or style element). A 404 the console expects (no topology uploaded) is logged by the
 * browser too, and is no error of the page.
 */
const pageErrors = new WeakMap<Page, string[]>();

async function signedIn(context: BrowserContext, token: string): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  pageErrors.set(page, errors);
  page.on('console', (m) => m.type() === 'error' && !/status of 404/.test(m.text()) && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(consoleUrl);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Fleet overview' }).waitFor();
  return page;
}

describe('web console in a browser against the stack', () => {
  before(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase('e2e_console');
    work = await mkdtemp(join(tmpdir(), 'fleetcast-e2e-console-'));
    await mkdir(join(work, 'markers'));
    const readerEntry = `auditor:read-only:sha256:${createHash('sha256').update(READER).digest('hex')}`;
    cp = await startControlPlane({
      natsUrl: nats.url,
      trustDir: nats.trust?.dir,
      databaseUrl: db.url,
      workDir: join(work, 'control-plane'),
      apiToken: ADMIN,
      // The admin token in clear (as the stack gives it to the origin too), and a read-only one hashed.
      env: { gateway: { API_TOKENS: `${ADMIN},${readerEntry}` } },
    });
    consoleUrl = `${cp.gatewayUrl}/console/`;
    api = new ApiClient(cp.gatewayUrl, ADMIN);
    for (const id of DEVICES) {
      const proc = await startAgentProcess({
        natsUrl: nats.url,
        controlPlane: cp,
        deviceId: id,
        dir: join(work, 'agents', id),
        // No loopback multicast: every device downloads from the origin (the LAN session has tests of its own).
        args: ['--no-multicast', '--installer-env', 'MARKER_FILE'],
        env: { MARKER_FILE: markerOf(id) },
      });
      await proc.waitForOutput(/agent ready/, { timeoutMs: 30_000 });
    }
    await waitFor(async () => (await api.ok('GET', '/v1/devices')).total === DEVICES.length, { timeoutMs: 20_000, description: 'the inventory knows both agents' });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await stopAll();
    await db?.drop();
    if (work && !process.env.FLEETCAST_KEEP_TEST_FILES) await rm(work, { recursive: true, force: true });
    else if (work) console.log(`kept ${work}`);
  });

  test('the gateway serves the built console with its CSP; a page address falls back to the application', async () => {
    assert.ok(existsSync(join(REPO_ROOT, 'apps/console/dist/web/index.html')), 'the console is built (npm run build)');
    const res = await fetch(`${cp.gatewayUrl}/console/tasks/anything`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.match(await res.text(), /<div id="root">/);
  });

  test('a token the gateway does not know is refused at sign-in', async () => {
    const context = await browser.newContext({ viewport: LAPTOP_VIEWPORT });
    const page = await context.newPage();
    await page.goto(consoleUrl);
    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'does not accept this token' }).waitFor();
    assert.equal(await page.evaluate(() => (globalThis as any).sessionStorage.length), 0, 'nothing kept');
    await context.close();
  });

  test('sign in, see the fleet, upload a package with the progress bar reaching 100 %', async () => {
    const context = await browser.newContext({ viewport: LAPTOP_VIEWPORT });
    const page = await signedIn(context, ADMIN);
    // The overview counts both agents, and the license's seats as the API reports them.
    const devicesTile = page.locator('.stat', { hasText: 'Devices' }).first();
    await devicesTile.locator('.stat-value', { hasText: String(DEVICES.length) }).waitFor();
    const license = await api.ok<{ used: number; seats: number }>('GET', '/v1/license');
    await page.locator('.stat', { hasText: 'License seats' }).locator('.stat-value', { hasText: `${license.used} / ${license.seats}` }).waitFor();

    // The token survives a reload of the tab (sessionStorage) and is checked again.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Fleet overview' }).waitFor();

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Packages' }).click();
    await page.getByRole('heading', { level: 1, name: 'Packages' }).waitFor();
    const file = join(work, 'console-tool.bin');
    const content = randomBytes(PACKAGE_BYTES);
    writeFileSync(file, content);
    await page.getByLabel('File').setInputFiles(file);
    await page.getByLabel('Name').fill('console-tool');
    await page.getByLabel('Version').fill('1.0');
    await page.getByLabel('Platform').selectOption('linux');
    await page.getByLabel('Install command').fill('/bin/sh');
    await page.getByLabel('Arguments (one per line)').fill('-c\nsha256sum "$FLEETCAST_PACKAGE_PATH" > "$MARKER_FILE"');
    await page.getByLabel('Timeout (seconds)').fill('60');
    // Every value the progress bar takes, read at each frame from the moment the upload starts.
    // (In the page: its globals are the browser's, which this project's types do not describe.)
    await page.evaluate(() => {
      const w = globalThis as any;
      const seen: number[] = [];
      w.progressSeen = seen;
      const look = () => {
        const bar = w.document.querySelector('#upload-progress');
        if (bar && seen[seen.length - 1] !== bar.value) seen.push(bar.value);
        w.requestAnimationFrame(look);
      };
      look();
    });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Uploaded: console-tool 1.0 is ready.' }).waitFor({ timeout: 60_000 });
    const seen = await page.evaluate(() => (globalThis as any).progressSeen as number[]);
    assert.equal(seen[seen.length - 1], 100, `progress values ${seen.join(', ')}`);
    assert.deepEqual([...seen].sort((a, b) => a - b), seen, `the bar only moves forward: ${seen.join(', ')}`);
    assert.equal(await page.locator('#upload-progress').evaluate((el) => (el as any).value as number), 100);

    // The package is listed ready, with its manifest: the origin's hash of what was sent.
    const packages = await api.ok<{ items: Array<{ id: string; name: string; contentId: string; status: string }> }>('GET', '/v1/packages');
    const pkg = packages.items.find((p) => p.name === 'console-tool');
    assert.ok(pkg);
    assert.equal(pkg.status, 'ready');
    assert.equal(pkg.contentId, createHash('sha256').update(content).digest('hex'));
    packageId = pkg.id;
    const details = page.locator('#package-details');
    await details.getByText(pkg.contentId).waitFor();
    await details.getByRole('heading', { name: 'Signed manifest' }).waitFor();
    await details.locator('dd', { hasText: '8.0 MB (8,388,608 bytes)' }).waitFor();
    assert.deepEqual(pageErrors.get(page), []);
    await context.close();
  });

  test('create a task in the form and watch every device reach succeeded live, with bytes by source and the LAN sessions', async () => {
    assert.ok(packageId, 'the upload test ran first');
    // A profile without multicast, chosen in the form (the agents run with --no-multicast as well).
    const profile = await api.ok<{ id: string }>('POST', '/v1/profiles', { name: 'console e2e: no multicast', useMulticast: false, sessionStartDelaySeconds: 0 });
    const context = await browser.newContext({ viewport: LAPTOP_VIEWPORT });
    const page = await signedIn(context, ADMIN);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'New task' }).click();
    await page.getByRole('heading', { level: 1, name: 'New task' }).waitFor();
    await page.getByLabel('Package').selectOption(packageId);
    await page.getByLabel('Name (optional)').fill('console rollout');
    await page.getByLabel('Devices by ID').check();
    await page.getByRole('button', { name: `Use all ${DEVICES.length} online devices` }).click();
    assert.deepEqual((await page.getByLabel('Device IDs').inputValue()).split('\n').sort(), DEVICES);
    await page.getByLabel('Install', { exact: true }).check();
    await page.getByLabel('Settings profile').selectOption(profile.id);
    await page.getByLabel('Now').check();
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.waitForURL((url) => /^\/console\/tasks\/[A-Za-z0-9_-]+$/.test(url.pathname) && url.pathname !== '/console/tasks/new');
    taskId = new URL(page.url()).pathname.split('/').pop()!;
    await page.getByRole('heading', { level: 1, name: 'Task: console rollout' }).waitFor();
    // A mark in the page: still there at the end means the page updated in place, never reloaded.
    await page.evaluate(() => ((globalThis as any).livePage = true));

    // Every state the devices' rows show, until both read succeeded.
    const states = new Set<string>();
    await waitFor(
      async () => {
        const now = await page.locator('#task-devices tbody tr[data-device]').evaluateAll((rows) => rows.map((r) => `${r.getAttribute('data-device')}=${r.getAttribute('data-state')}`));
        for (const s of now) states.add(s);
        return now.length === DEVICES.length && now.every((s) => s.endsWith('=succeeded'));
      },
      { timeoutMs: 120_000, intervalMs: 200, description: 'both devices succeeded on the task page' },
    );
    assert.equal(await page.evaluate(() => (globalThis as any).livePage), true, 'the page was not reloaded');
    await page.getByRole('status').filter({ hasText: `${DEVICES.length} of ${DEVICES.length} devices done (${DEVICES.length} succeeded, 0 failed) · finished` }).waitFor();
    for (const id of DEVICES) assert.match(readFileSync(markerOf(id), 'utf8'), new RegExp(createHash('sha256').update(readFileSync(join(work, 'console-tool.bin'))).digest('hex')));

    // Bytes by source as the API's summary has them: every byte from the origin, none from the LAN.
    const task = await api.ok<Task>('GET', `/v1/tasks/${taskId}`);
    assert.equal(task.profileId, profile.id);
    assert.equal(task.summary.counts.succeeded, DEVICES.length);
    const bytes = page.locator('#bytes-by-source');
    await page.getByRole('heading', { level: 2, name: 'Bytes by source' }).waitFor();
    assert.equal(await bytes.locator('tr[data-source="origin"] td[data-bytes]').getAttribute('data-bytes'), String(task.summary.bytes.origin));
    assert.ok(task.summary.bytes.origin >= DEVICES.length * PACKAGE_BYTES, `origin bytes ${task.summary.bytes.origin}`);
    assert.equal(await bytes.locator('tr[data-source="multicast"] td[data-bytes]').getAttribute('data-bytes'), '0');
    assert.equal(await bytes.locator('tr[data-source="peer"] td[data-bytes]').getAttribute('data-bytes'), '0');

    // The LAN session section: a row per subnet of the summary, none holding a session (no multicast).
    await page.getByRole('heading', { level: 2, name: 'LAN sessions per subnet' }).waitFor();
    assert.ok(task.summary.subnets.length >= 1, 'the devices are on a subnet');
    const lanRows = page.locator('#lan-sessions tbody tr');
    assert.equal(await lanRows.count(), task.summary.subnets.length);
    for (const s of task.summary.subnets) {
      const row = lanRows.filter({ has: page.getByRole('rowheader', { name: s.subnet, exact: true }) });
      await row.getByText(`${s.counts.succeeded} / ${s.total}`).waitFor();
      await row.getByText('none: no LAN session').waitFor();
    }

    // A device's history in the task: created pending, then each state it reported, to succeeded.
    await page.getByRole('button', { name: `History of ${DEVICES[0]}` }).click();
    const history = page.getByRole('list', { name: `History of ${DEVICES[0]}` });
    await history.locator('li').last().getByText('succeeded').waitFor();
    assert.match((await history.locator('li').first().textContent()) ?? '', /pending/);
    assert.deepEqual(pageErrors.get(page), []);
    await context.close();
  });

  test('a read-only token sees everything and is offered no write action', async () => {
    assert.ok(taskId, 'the task test ran first');
    const context = await browser.newContext({ viewport: LAPTOP_VIEWPORT });
    const page = await signedIn(context, READER);
    await page.getByText('Signed in as').getByText('read-only').waitFor();
    const nav = page.getByRole('navigation', { name: 'Main' });
    assert.equal(await nav.getByRole('link', { name: 'New task' }).count(), 0);
    // Buttons a reader may have: reading ones only.
    const buttonsOf = async () => (await page.getByRole('button').allTextContents()).map((t) => t.trim().replace(/\s+/g, ' '));
    const readingOnly = (names: string[]) => names.every((n) => n === 'Sign out' || n === 'Refresh' || n.startsWith('Details') || n.startsWith('History'));

    await nav.getByRole('link', { name: 'Packages' }).click();
    await page.getByRole('heading', { level: 1, name: 'Packages' }).waitFor();
    await page.getByRole('rowheader', { name: 'console-tool' }).waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Upload a package' }).count(), 0);
    assert.equal(await page.locator('input[type="file"]').count(), 0);
    assert.equal(await page.getByRole('link', { name: /Distribute/ }).count(), 0);
    assert.ok(readingOnly(await buttonsOf()), (await buttonsOf()).join(', '));

    await nav.getByRole('link', { name: 'Tasks' }).click();
    await page.getByRole('heading', { level: 1, name: 'Tasks' }).waitFor();
    await page.getByRole('link', { name: 'console rollout' }).click();
    await page.getByRole('heading', { level: 1, name: 'Task: console rollout' }).waitFor();
    await page.locator('#task-devices tbody tr[data-state="succeeded"]').nth(DEVICES.length - 1).waitFor();
    assert.ok(readingOnly(await buttonsOf()), (await buttonsOf()).join(', '));

    // The creation page's address itself offers no form.
    await page.goto(`${cp.gatewayUrl}/console/tasks/new`);
    await page.getByText('Your token is read-only').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create task' }).count(), 0);
    assert.equal(await page.locator('form').count(), 0);
    assert.deepEqual(pageErrors.get(page), []);
    await context.close();
  });
  test('keyboard and labels: a skip link, pages reached by keyboard, a name on every control, no sideways scroll at 1366x768', async () => {
    const context = await browser.newContext({ viewport: LAPTOP_VIEWPORT });
    const page = await signedIn(context, ADMIN);
    // The first Tab reaches the skip link; Enter takes the focus to the page's content.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.textContent), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.id), 'main');

    /** What a page offers that has no accessible name, its h1 count, and how wide it is. */
    const audit = () =>
      page.evaluate(() => {
        const doc = (globalThis as any).document;
        const unnamed: string[] = [];
        for (const el of doc.querySelectorAll('input, select, textarea')) {
          const named = el.labels?.length > 0 || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
          if (!named) unnamed.push(`${el.tagName.toLowerCase()}#${el.id}`);
        }
        for (const el of doc.querySelectorAll('button, a[href]')) if (!el.textContent.trim() && !el.getAttribute('aria-label')) unnamed.push(el.outerHTML.slice(0, 80));
        return { unnamed, h1: doc.querySelectorAll('h1').length, width: doc.documentElement.scrollWidth };
      });

    const pages: Array<[string, string]> = [
      ['Overview', 'Fleet overview'],
      ['Packages', 'Packages'],
      ['Tasks', 'Tasks'],
      ['New task', 'New task'],
    ];
    for (const [link, heading] of pages) {
      // Reached by keyboard: the link focused, Enter; the focus lands on the new page's heading.
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link, exact: true }).focus();
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: heading }).waitFor();
      await waitFor(async () => (await page.evaluate(() => (globalThis as any).document.activeElement?.tagName)) === 'H1', { timeoutMs: 5_000, description: `focus on the ${heading} heading` });
      if (link === 'New task') await page.getByLabel('Inventory query').check();
      const found = await audit();
      assert.deepEqual(found.unnamed, [], `${heading}: controls without a name`);
      assert.equal(found.h1, 1, `${heading}: one h1`);
      assert.ok(found.width <= LAPTOP_VIEWPORT.width, `${heading}: ${found.width} px wide on a ${LAPTOP_VIEWPORT.width} px screen`);
    }
    assert.deepEqual(pageErrors.get(page), []);
    await context.close();
  });
});
