#!/usr/bin/env node
// Runs the test tiers over the compiled output with Node's own test runner.
//   unit: *.spec.js (pure logic)   int: *.int-spec.js (real NATS + Postgres)   e2e: *.e2e-spec.js (processes)
// Usage: node scripts/run-tests.mjs [unit|int|e2e ...] [--filter substring]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const filterAt = args.indexOf('--filter');
const filter = filterAt >= 0 ? args.splice(filterAt, 2)[1] : undefined;
const tiers = args.length > 0 ? args : ['unit', 'int', 'e2e'];
const suffix = { unit: /(?<!int-|e2e-)spec\.js$/, int: /\.int-spec\.js$/, e2e: /\.e2e-spec\.js$/ };

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (path.includes('/dist/') && path.endsWith('.js')) out.push(path);
  }
  return out;
}

const compiled = ['libs', 'services', 'agents', 'apps', 'tests'].flatMap((top) => collect(join(root, top), []));
let failed = false;
const totals = { pass: 0, fail: 0, cancelled: 0, skipped: 0 };
const tapDir = mkdtempSync(join(tmpdir(), 'fleetcast-tests-'));
for (const tier of tiers) {
  const pattern = suffix[tier];
  if (!pattern) {
    console.error(`unknown tier "${tier}" (unit, int or e2e)`);
    process.exit(2);
  }
  const files = compiled.filter((f) => pattern.test(f) && (!filter || f.includes(filter))).sort();
  if (files.length === 0) continue;
  console.log(`\n== ${tier}: ${files.length} file(s)`);
  // Integration and e2e files share one machine's NATS and Postgres and spawn processes: one at a time.
  const concurrency = tier === 'unit' ? '2' : '1';
  const result = spawnSync(
    process.execPath,
    [
      '--enable-source-maps',
      '--test',
      `--test-concurrency=${concurrency}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${join(tapDir, tier + '.tap')}`,
      ...files.map((f) => relative(root, f)),
    ],
    { cwd: root, stdio: 'inherit' },
  );
  if (result.status !== 0) failed = true;
  const tap = readFileSync(join(tapDir, tier + '.tap'), 'utf8');
  for (const key of Object.keys(totals)) totals[key] += Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
}
rmSync(tapDir, { recursive: true, force: true });
// One closing line over all tiers, in the plain form any reader understands.
// A test cancelled because its suite's setup failed did not pass: it counts as failed here.
console.log(`\ntests: ${totals.pass} passed, ${totals.fail + totals.cancelled} failed, ${totals.skipped} skipped`);
process.exit(failed || totals.fail + totals.cancelled > 0 ? 1 : 0);
