import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCreateTask, emptyTaskForm, parseDeviceIds, TaskForm } from './task-form';

const NOW = Date.parse('2026-12-03T08:00:00Z');
const form = (over: Partial<TaskForm>): TaskForm => ({ ...emptyTaskForm, packageId: 'pkg-1', ...over });

test('device IDs: split on commas, spaces and lines, duplicates once', () => {
  assert.deepEqual(parseDeviceIds(' a, b\nc  a,,'), ['a', 'b', 'c']);
});

test('targets by device IDs, install now, the default profile', () => {
  assert.deepEqual(buildCreateTask(form({ deviceIds: 'dev-1 dev-2' }), NOW), {
    ok: true,
    body: { packageId: 'pkg-1', action: 'install', targets: { deviceIds: ['dev-1', 'dev-2'] } },
  });
});

test('targets by inventory query, cache only, a profile, at a time read as UTC', () => {
  assert.deepEqual(
    buildCreateTask(
      form({ name: ' night ', targetMode: 'query', platform: 'linux', subnet: '10.1.0.0/24', action: 'cache-only', profileId: 'prof-1', schedule: 'at', startAt: '2026-12-04T02:30' }),
      NOW,
    ),
    {
      ok: true,
      body: {
        name: 'night',
        packageId: 'pkg-1',
        action: 'cache-only',
        targets: { query: { includeStale: false, platform: 'linux', subnet: '10.1.0.0/24' } },
        profileId: 'prof-1',
        startAt: '2026-12-04T02:30:00.000Z',
      },
    },
  );
});

test('each wrong field gets its own message', () => {
  const table: Array<[Partial<TaskForm>, string, RegExp]> = [
    [{ packageId: '', deviceIds: 'a' }, 'packageId', /choose a package/],
    [{ deviceIds: '  ' }, 'deviceIds', /at least one/],
    [{ deviceIds: 'ok bad.id' }, 'deviceIds', /not a device ID: bad\.id/],
    [{ targetMode: 'query' }, 'platform', /narrow the query/],
    [{ deviceIds: 'a', schedule: 'at', startAt: 'tomorrow' }, 'startAt', /date and time/],
    [{ deviceIds: 'a', schedule: 'at', startAt: '2026-12-02T08:00' }, 'startAt', /in the past/],
    [{ deviceIds: 'a', name: 'x'.repeat(201) }, 'name', /200/],
  ];
  for (const [over, field, message] of table) {
    const result = buildCreateTask(form(over), NOW);
    assert.equal(result.ok, false, field);
    if (!result.ok) assert.match(result.errors[field as keyof TaskForm] ?? '', message, field);
  }
});
