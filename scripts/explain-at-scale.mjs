#!/usr/bin/env node
// The hot queries of a 100,000-device fleet, measured on a real PostgreSQL: makes a scratch
// database with the tasks and inventory services' own migrations, fills it with --devices devices
// (in subnets of 250) and one task to all of them (states and bytes spread as a rollout in flight
// leaves them), then runs each query the services run for the API's hot paths --runs times and
// prints its median time and the plan's shape (EXPLAIN ANALYZE). Removes the database at the end.
// Needs a built workspace (npm run build) and PostgreSQL (FLEETCAST_TEST_PG_URL, default the local one).
//   node scripts/explain-at-scale.mjs [--devices 100000] [--runs 7] [--plans]
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const { values } = parseArgs({ options: { devices: { type: 'string', default: '100000' }, runs: { type: 'string', default: '7' }, plans: { type: 'boolean', default: false } } });
const DEVICES = Number(values.devices);
const RUNS = Number(values.runs);
if (!Number.isInteger(DEVICES) || DEVICES < 1000 || !Number.isInteger(RUNS) || RUNS < 1) {
  console.error('--devices must be an integer of at least 1000, --runs a positive integer');
  process.exit(64);
}
let testing;
try {
  testing = require(`${root}libs/testing`);
} catch {
  console.error('build the workspace first: npm run build');
  process.exit(2);
}
const { Client } = require(`${root}node_modules/pg`);
const say = (msg) => console.log(`[explain] ${msg}`);

const db = await testing.createTestDatabase('explain_scale');
const client = new Client({ connectionString: db.url });
try {
  for (const service of ['inventory', 'tasks']) {
    const run = spawnSync(process.execPath, [`${root}services/${service}/dist/src/migrate.js`, 'up'], { env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn' }, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`${service} migrations failed: ${run.stderr || run.stdout}`);
  }
  await client.connect();
  const seeded = Date.now();
  // Devices: d-0000001 ..., 250 to a subnet, a third per platform, one in 50 stale.
  await client.query(
    `INSERT INTO inventory.devices (id, hostname, platform, os_version, agent_version, interfaces, subnets, primary_subnet, cached_content_ids,
       cache_free_bytes, scanned_at, scan_seq, last_seen_at, version_state)
     SELECT 'd-' || lpad(i::text, 7, '0'), 'host-' || i, (ARRAY['windows','macos','linux'])[1 + i % 3], '1', '0.1.0',
       jsonb_build_array(jsonb_build_object('name', 'eth0', 'mac', '00:00:00:00:00:00', 'addresses', jsonb_build_array('10.' || (i / 250 / 256) || '.' || (i / 250 % 256) || '.' || (1 + i % 250) || '/24'))),
       ARRAY['10.' || (i / 250 / 256) || '.' || (i / 250 % 256) || '.0/24'], '10.' || (i / 250 / 256) || '.' || (i / 250 % 256) || '.0/24', ARRAY[]::text[],
       10737418240, now(), 1, CASE WHEN i % 50 = 0 THEN now() - interval '30 days' ELSE now() END, 'supported'
     FROM generate_series(1, $1) AS i`,
    [DEVICES],
  );
  await client.query(`INSERT INTO tasks.packages (id, name, version, platform, install_command, install_args, success_exit_codes, timeout_seconds, status)
    VALUES ('p-1', 'image', '1', 'linux', '/bin/true', '[]', '[0]', 600, 'ready')`);
  await client.query(`INSERT INTO tasks.tasks (id, name, package_id, action, status, profile_id, start_at, lan_key) VALUES ('t-1', 'rollout', 'p-1', 'install', 'active', 'default', now(), '\\x00')`);
  // A rollout in flight: 60 % succeeded, 25 % downloading, 10 % pending, 4 % installing, 1 % failed
  // with a reason; an office per 4 subnets (1,000 devices), the last devices in none.
  await client.query(
    `INSERT INTO tasks.device_tasks (task_id, device_id, subnet, state, seq, reason, bytes_origin, bytes_multicast, bytes_peer, lan_role, lan_session_started_at,
       lan_bytes_sent, lan_repairs, lan_invalid_packets, office_id, office_name)
     SELECT 't-1', 'd-' || lpad(i::text, 7, '0'), '10.' || (i / 250 / 256) || '.' || (i / 250 % 256) || '.0/24',
       CASE WHEN i % 100 < 60 THEN 'succeeded' WHEN i % 100 < 85 THEN 'downloading' WHEN i % 100 < 95 THEN 'pending' WHEN i % 100 < 99 THEN 'installing' ELSE 'failed' END,
       3, CASE WHEN i % 100 = 99 THEN '{"code":"INSTALL.EXIT_CODE","message":"exit 1"}'::jsonb END,
       CASE WHEN i % 250 = 0 THEN 1073741824 ELSE 0 END, CASE WHEN i % 250 = 0 THEN 0 ELSE 1073741824 END, 0,
       CASE WHEN i % 250 = 0 THEN 'representative' ELSE 'follower' END, now(), CASE WHEN i % 250 = 0 THEN 1181116006 ELSE 0 END, 0, 0,
       CASE WHEN i <= $1 - 500 THEN 'o-' || (i / 1000) END, CASE WHEN i <= $1 - 500 THEN 'Office ' || (i / 1000) END
     FROM generate_series(1, $1) AS i`,
    [DEVICES],
  );
  await client.query('ANALYZE');
  say(`${DEVICES.toLocaleString('en')} devices, one task to all of them, seeded in ${((Date.now() - seeded) / 1000).toFixed(1)} s`);

  const queries = [
    ['task summary: counts and bytes by subnet and state, and by office', `SELECT GROUPING(office_id) = 0, subnet, state, office_id, max(office_name), count(*)::int, sum(bytes_origin), sum(bytes_parent), sum(bytes_multicast), sum(bytes_peer), sum(lan_bytes_sent), sum(lan_repairs), sum(lan_invalid_packets) FROM tasks.device_tasks WHERE task_id = 't-1' GROUP BY GROUPING SETS ((subnet, state), (office_id))`],
    ['task summary: representatives', `SELECT DISTINCT ON (subnet) subnet, device_id, lan_session_started_at FROM tasks.device_tasks WHERE task_id = 't-1' AND lan_role = 'representative' ORDER BY subnet, lan_session_started_at DESC NULLS LAST, device_id`],
    ['task summary: reasons', `SELECT state, reason->>'code', min(reason->>'message'), count(*)::int FROM tasks.device_tasks WHERE task_id = 't-1' AND reason IS NOT NULL AND jsonb_typeof(reason) = 'object' AND reason->>'code' IS NOT NULL GROUP BY state, reason->>'code'`],
    ['task summary: LAN issues', `SELECT subnet, lan_issue_code, min(lan_issue_message), count(*)::int FROM tasks.device_tasks WHERE task_id = 't-1' AND lan_issue_code IS NOT NULL GROUP BY subnet, lan_issue_code`],
    ["task devices: first page", `SELECT * FROM tasks.device_tasks WHERE task_id = 't-1' ORDER BY device_id LIMIT 100 OFFSET 0`],
    ["task devices: last page (offset)", `SELECT * FROM tasks.device_tasks WHERE task_id = 't-1' ORDER BY device_id LIMIT 100 OFFSET ${DEVICES - 100}`],
    ["task devices: the failed ones, first page", `SELECT * FROM tasks.device_tasks WHERE task_id = 't-1' AND state = 'failed' ORDER BY device_id LIMIT 100 OFFSET 0`],
    ['task devices: count', `SELECT count(*)::int FROM tasks.device_tasks WHERE task_id = 't-1'`],
    ['device list: first page', `SELECT id, hostname, platform, primary_subnet, last_seen_at FROM inventory.devices ORDER BY id LIMIT 100 OFFSET 0`],
    ['device list: last page (offset)', `SELECT id, hostname, platform, primary_subnet, last_seen_at FROM inventory.devices ORDER BY id LIMIT 100 OFFSET ${DEVICES - 100}`],
    ['device list: one subnet', `SELECT id, hostname FROM inventory.devices WHERE primary_subnet = '10.0.7.0/24' ORDER BY id LIMIT 100`],
    ['device list: count', `SELECT count(*)::int FROM inventory.devices`],
    ['subnet map', `SELECT primary_subnet, count(*)::int FROM inventory.devices WHERE primary_subnet IS NOT NULL GROUP BY primary_subnet`],
    ['target resolution: one page of a query', `SELECT id, primary_subnet, version_state FROM inventory.devices WHERE platform = 'linux' AND NOT (last_seen_at < now() - interval '1 day') AND id > 'd-0050000' ORDER BY id LIMIT 2001`],
  ];
  /** Median execution time of a query over RUNS runs, and its plan's nodes. */
  const measure = async (sql) => {
    const times = [];
    let plan;
    for (let i = 0; i < RUNS; i++) {
      const [result] = (await client.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`)).rows;
      plan = result['QUERY PLAN'][0];
      times.push(plan['Execution Time']);
    }
    times.sort((a, b) => a - b);
    const shape = [];
    const walk = (node) => {
      shape.push(`${node['Node Type']}${node['Index Name'] ? ` (${node['Index Name']})` : node['Relation Name'] ? ` (${node['Relation Name']})` : ''}`);
      for (const child of node.Plans ?? []) walk(child);
    };
    walk(plan.Plan);
    if (values.plans) console.log((await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`)).rows.map((r) => r['QUERY PLAN']).join('\n'));
    return { ms: times[Math.floor(times.length / 2)], shape: shape.join(' > ') };
  };
  const rows = [];
  for (const [name, sql] of queries) rows.push({ name, sql, ...(await measure(sql)) });
  console.log(`\n| query (${DEVICES.toLocaleString('en')} devices) | median of ${RUNS} (ms) | plan |`);
  console.log('|---|---:|---|');
  for (const r of rows) console.log(`| ${r.name} | ${r.ms.toFixed(2)} | ${r.shape} |`);

  // The baseline of the same run: the queries the summary indexes serve, without those indexes.
  const SUMMARY_INDEXES = ['device_tasks_representatives', 'device_tasks_reasons', 'device_tasks_lan_issues', 'device_tasks_state'];
  await client.query('BEGIN');
  for (const index of SUMMARY_INDEXES) await client.query(`DROP INDEX tasks.${index}`);
  console.log(`\n| without the summary indexes | median of ${RUNS} (ms) | with / without | plan |`);
  console.log('|---|---:|---:|---|');
  for (const r of rows.filter((row) => SUMMARY_INDEXES.some((index) => row.shape.includes(index)))) {
    const without = await measure(r.sql);
    console.log(`| ${r.name} | ${without.ms.toFixed(2)} | ${(r.ms / without.ms).toFixed(3)} | ${without.shape} |`);
  }
  await client.query('ROLLBACK');
} finally {
  await client.end().catch(() => undefined);
  await db.drop();
}
