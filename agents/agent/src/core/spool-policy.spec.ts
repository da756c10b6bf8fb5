import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SubjectBase } from '@fleetcast/contracts';
import { SpoolEntry, SpoolLimits, parseSpoolName, planSpool, spoolBaseName, spoolKindOf } from './spool-policy';

/** An entry from a compact spec: "3:report:t1" (seq, kind, task), 100 bytes unless `:<bytes>` follows. */
function entry(spec: string): SpoolEntry {
  const [seq, kind, taskId, bytes] = spec.split(':');
  const parsed = parseSpoolName(`${spoolBaseName(Number(seq), kind as SpoolEntry['kind'], taskId || null)}.json`, Number(bytes ?? 100));
  assert.ok(parsed, spec);
  return parsed;
}

/** The plan as "seq:reason" strings, in the order the files go. */
function plan(specs: string[], limits: SpoolLimits): { drop: string[]; overLimit: boolean } {
  const p = planSpool(specs.map(entry), limits);
  return { drop: p.drop.map((d) => `${Number(d.name.slice(0, 12))}:${d.reason}`), overLimit: p.overLimit };
}

const files = (maxFiles: number): SpoolLimits => ({ maxFiles, maxBytes: 1e9 });

const cases: Array<{ name: string; spool: string[]; limits: SpoolLimits; drop: string[]; overLimit?: boolean }> = [
  { name: 'within its limits: nothing goes, superseded or not', spool: ['1:report:t1', '2:report:t1', '3:scan'], limits: files(3), drop: [] },
  { name: 'a progress report superseded by a newer report of its task goes first', spool: ['1:report:t1', '2:report:t2', '3:report:t1'], limits: files(2), drop: ['1:superseded'] },
  { name: 'superseded go oldest first, only as many as needed', spool: ['1:report:t1', '2:report:t1', '3:report:t1', '4:report:t1'], limits: files(2), drop: ['1:superseded', '2:superseded'] },
  { name: 'a progress report superseded by the final report of its task', spool: ['1:report:t1', '2:final:t1', '3:report:t2'], limits: files(2), drop: ['1:superseded'] },
  { name: 'an older scan is superseded by a newer one', spool: ['1:scan', '2:report:t1', '3:scan'], limits: files(2), drop: ['1:superseded'] },
  { name: 'a repeated final report (a restart reports it again) is superseded by its newer copy', spool: ['1:final:t1', '2:final:t2', '3:final:t1'], limits: files(2), drop: ['1:superseded'] },
  {
    name: 'nothing superseded left: the oldest newest-of-its-task progress report or scan goes, never a final',
    spool: ['1:final:t1', '2:report:t2', '3:scan', '4:final:t3', '5:report:t4'],
    limits: files(3),
    drop: ['2:full', '3:full'],
  },
  { name: 'superseded before full, whatever their age', spool: ['1:report:t1', '2:report:t2', '3:report:t2'], limits: files(1), drop: ['2:superseded', '1:full'] },
  { name: 'only finals: kept, the spool stays over its limit', spool: ['1:final:t1', '2:final:t2', '3:final:t3'], limits: files(2), drop: [], overLimit: true },
  { name: 'files of an earlier agent version (kind unknown) are kept like finals', spool: ['1:other', '2:other', '3:report:t1'], limits: files(2), drop: ['3:full'] },
  { name: 'the incoming (newest) report goes last: older expendables first', spool: ['1:report:t1', '2:report:t2', '3:report:t3'], limits: files(2), drop: ['1:full'] },
  { name: 'the byte limit: a large superseded scan goes first', spool: ['1:scan::5000', '2:report:t1:100', '3:scan::200'], limits: { maxFiles: 100, maxBytes: 1000 }, drop: ['1:superseded'] },
  { name: 'the byte limit: progress reports until under it', spool: ['1:report:t1:600', '2:report:t2:600', '3:final:t3:600'], limits: { maxFiles: 100, maxBytes: 1000 }, drop: ['1:full', '2:full'] },
];

for (const c of cases) {
  test(`spool plan: ${c.name}`, () => {
    assert.deepEqual(plan(c.spool, c.limits), { drop: c.drop, overLimit: c.overLimit ?? false });
  });
}

test('spool kinds: status reports by state, scans, anything else', () => {
  assert.deepEqual(spoolKindOf(SubjectBase.deviceStatusReported, { taskId: 't-1', state: 'downloading' }), { kind: 'report', taskId: 't-1' });
  assert.deepEqual(spoolKindOf(SubjectBase.deviceStatusReported, { taskId: 't-1', state: 'failed' }), { kind: 'final', taskId: 't-1' });
  assert.deepEqual(spoolKindOf(SubjectBase.deviceStatusReported, { taskId: 't-1', state: 'succeeded' }), { kind: 'final', taskId: 't-1' });
  // A task ID that cannot be a file name token is not trusted into one.
  assert.deepEqual(spoolKindOf(SubjectBase.deviceStatusReported, { taskId: '../x', state: 'queued' }), { kind: 'other', taskId: null });
  assert.deepEqual(spoolKindOf(SubjectBase.inventoryScanSubmitted, { scanSeq: 1 }), { kind: 'scan', taskId: null });
  assert.deepEqual(spoolKindOf('something.else', null), { kind: 'other', taskId: null });
});

test('spool names: round trip, order by number, an earlier version\'s bare names, strays ignored', () => {
  assert.equal(spoolBaseName(42, 'report', 'task-1'), '000000000042-report-task-1');
  assert.deepEqual(parseSpoolName('000000000042-report-task-1.json', 7), { name: '000000000042-report-task-1.json', seq: 42, kind: 'report', taskId: 'task-1', bytes: 7 });
  assert.deepEqual(parseSpoolName('000000000043-scan.json', 1), { name: '000000000043-scan.json', seq: 43, kind: 'scan', taskId: null, bytes: 1 });
  assert.deepEqual(parseSpoolName('000000000007.json', 1), { name: '000000000007.json', seq: 7, kind: 'other', taskId: null, bytes: 1 });
  for (const stray of ['000000000042-report-task-1.tmp', 'notes.json', '42.json', '000000000042-weird.json']) assert.equal(parseSpoolName(stray, 1), null, stray);
  // Zero-padded numbers sort as names the way they sort as numbers.
  assert.ok(spoolBaseName(999, 'scan', null) < spoolBaseName(1000, 'scan', null));
});
