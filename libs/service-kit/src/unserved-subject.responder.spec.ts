import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subjectMatches } from './unserved-subject.responder';

test('subject filters match like NATS does', () => {
  const table: Array<[string, string, boolean]> = [
    ['tasks.cmd.device.assign.>', 'tasks.cmd.device.assign.v1.dev-1', true],
    ['tasks.cmd.device.assign.>', 'tasks.cmd.device.assign', false],
    ['tasks.cmd.*.create.v1', 'tasks.cmd.task.create.v1', true],
    ['tasks.cmd.*.create.v1', 'tasks.cmd.task.create.v2', false],
    ['tasks.qry.task.get.v1', 'tasks.qry.task.get.v1', true],
    ['tasks.qry.task.get.v1', 'tasks.qry.task.get.v1.x', false],
  ];
  for (const [filter, subject, expected] of table) assert.equal(subjectMatches(filter, subject), expected, `${filter} ~ ${subject}`);
});
