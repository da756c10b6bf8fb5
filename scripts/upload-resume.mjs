#!/usr/bin/env node
// Resumable upload benchmark: a large file (2 GiB by default) uploaded with the real `fleetcast` CLI
// through the gateway to the origin of a local stack (NATS, Postgres, every service as a process),
// the CLI killed (SIGKILL) once the origin holds 60 % of it, then the same command run again.
// Prints: where the server stood at the kill, where the second run resumed, the bytes it sent, how
// many of those the server already had (resent), both runs' times, and an uninterrupted upload of the
// same file for comparison; checks that the package's content ID is the file's SHA-256.
// Usage: npm run build && node scripts/upload-resume.mjs [--size-mib 2048] [--kill-at 0.6] [--no-baseline]
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: opts } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '2048' },
    'kill-at': { type: 'string', default: '0.6' },
    baseline: { type: 'boolean', default: true },
    'no-baseline': { type: 'boolean', default: false },
  },
});
const MiB = 1024 * 1024;
const size = Number(opts['size-mib']) * MiB;
const killAt = Number(opts['kill-at']);
const { createTestDatabase, startControlPlane, startNatsServer, stopAll } = await import(`${root}/libs/testing/dist/index.js`);
const CLI = join(root, 'apps/cli/dist/src/main.js');
const TOKEN = `bench-upload-${randomBytes(6).toString('hex')}`;

const work = await mkdtemp(join(tmpdir(), 'fleetcast-upload-resume-'));
let db;
try {
  console.log(`writing a ${size / MiB} MiB file ...`);
  const file = join(work, 'big.bin');
  const sha256 = await writeFile(file, size);
  const nats = await startNatsServer();
  db = await createTestDatabase('bench_upload_resume');
  const cp = await startControlPlane({ natsUrl: nats.url, trustDir: nats.trust?.dir, databaseUrl: db.url, workDir: join(work, 'control-plane'), apiToken: TOKEN, logLevel: 'warn' });
  const env = { ...process.env, XDG_CONFIG_HOME: join(work, 'config'), FLEETCAST_SERVER: cp.gatewayUrl, FLEETCAST_TOKEN: TOKEN };
  const uploadsDir = join(work, 'control-plane', 'origin-store', 'uploads');
  const received = () => (existsSync(uploadsDir) ? readdirSync(uploadsDir).filter((n) => n.endsWith('.part')).map((n) => statSync(join(uploadsDir, n)).size) : []);
  const args = (name) => ['packages', 'upload', file, '--name', name, '--version', '1', '--platform', 'linux', '--install-command', '/bin/true', '--json'];

  // 1. Killed once the origin holds `killAt` of the file.
  const first = await run(args('bench-resume'), env, (kill) => {
    const timer = setInterval(() => {
      if (received().some((bytes) => bytes >= killAt * size)) {
        clearInterval(timer);
        kill();
      }
    }, 5);
    return () => clearInterval(timer);
  });
  const atKill = Math.max(0, ...received());
  if (first.code !== null) throw new Error(`the first run was not killed (exit ${first.code}):\n${first.stderr}`);
  // 2. The same command again: it finds the remembered upload and asks the server where it stands.
  const second = await run(args('bench-resume'), env);
  if (second.code !== 0) throw new Error(`the second run failed (exit ${second.code}):\n${second.stderr}`);
  const pkg = JSON.parse(second.stdout);
  const resumedAt = Number(/at byte (\d+) of/.exec(second.stderr)?.[1] ?? NaN);
  const sent = Number(/upload complete: (\d+) bytes sent by this run/.exec(second.stderr)?.[1] ?? NaN);
  if (pkg.contentId !== sha256) throw new Error(`content ${pkg.contentId} is not the file's SHA-256 ${sha256}`);

  let baseline;
  if (opts.baseline && !opts['no-baseline']) baseline = await run([...args('bench-whole'), '--no-resume'], env);

  const mb = (bytes) => `${(bytes / MiB).toFixed(1)} MiB`;
  const rate = (bytes, ms) => `${((bytes / MiB) / (ms / 1000)).toFixed(0)} MiB/s`;
  console.log(`\nfile                         ${mb(size)} (${size} bytes), sha256 ${sha256.slice(0, 16)}...`);
  console.log(`first run killed after        ${(first.ms / 1000).toFixed(1)} s (hash + upload); origin held ${mb(atKill)} (${((atKill * 100) / size).toFixed(1)} %)`);
  console.log(`second run resumed at byte    ${resumedAt} (${((resumedAt * 100) / size).toFixed(1)} %)`);
  console.log(`second run sent               ${mb(sent)} in ${(second.ms / 1000).toFixed(1)} s (${rate(sent, second.ms)}, no hashing: the file is unchanged)`);
  console.log(`bytes resent                  ${Math.max(0, sent - (size - atKill))} (bytes the origin held at the kill and received again)`);
  console.log(`content ID                    matches the file's SHA-256`);
  console.log(`CLI peak resident memory      ${first.peakRssMiB} MiB (first run), ${second.peakRssMiB} MiB (second run)`);
  if (baseline) console.log(`uninterrupted upload          ${(baseline.ms / 1000).toFixed(1)} s for ${mb(size)} (hash + upload), CLI peak ${baseline.peakRssMiB} MiB`);
} finally {
  await stopAll();
  await db?.drop().catch(() => undefined);
  await rm(work, { recursive: true, force: true });
}

/** Writes `size` bytes: a random MiB, each copy stamped with its index (no two blocks alike). Returns the SHA-256. */
async function writeFile(path, bytes) {
  const out = createWriteStream(path);
  const pattern = randomBytes(MiB);
  const hash = createHash('sha256');
  for (let i = 0; i * MiB < bytes; i++) {
    const block = Buffer.from(pattern.subarray(0, Math.min(MiB, bytes - i * MiB)));
    if (block.length >= 4) block.writeUInt32BE(i, 0);
    hash.update(block);
    if (!out.write(block)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

/** Runs the CLI to its end; `watch` may kill it (SIGKILL) and returns its own cleanup. */
function run(argv, env, watch) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const stop = watch?.(() => child.kill('SIGKILL'));
    // The CLI's resident memory, sampled: it must stay flat whatever the file's size.
    let peakRssKiB = 0;
    const sampler = setInterval(() => {
      try {
        const rss = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
        peakRssKiB = Math.max(peakRssKiB, rss);
      } catch {
        // Gone already.
      }
    }, 50);
    child.on('error', reject);
    child.on('close', (code) => {
      stop?.();
      clearInterval(sampler);
      resolve({ code, stdout, stderr, ms: Date.now() - started, peakRssMiB: Math.round(peakRssKiB / 1024) });
    });
  });
}
