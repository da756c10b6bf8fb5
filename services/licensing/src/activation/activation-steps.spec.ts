import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialSteps, nextStep, withStep } from './activation-steps';

test('activation steps: in order, each done once; the next is the first not done', () => {
  let steps = initialSteps();
  assert.deepEqual(steps.map((s) => s.name), ['license', 'topology', 'content', 'devices']);
  assert.equal(nextStep(steps)?.name, 'license');
  steps = withStep(steps, 'license', { state: 'done' });
  assert.equal(nextStep(steps)?.name, 'topology');
  // A step that failed or was running when the process died is the one resumed.
  steps = withStep(steps, 'topology', { state: 'running' });
  assert.equal(nextStep(steps)?.name, 'topology');
  for (const name of ['topology', 'content', 'devices'] as const) steps = withStep(steps, name, { state: 'done' });
  assert.equal(nextStep(steps), null);
});
