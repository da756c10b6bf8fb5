import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeviceOffice } from '@fleetcast/contracts';
import { officeToRecord, sameOffice } from '../swarm/office-directory';
import { devicesToPlace } from './office-recorder';

const east = { id: 'east', name: 'East', type: 'default' as const };
const placement = (placed: boolean): DeviceOffice => ({
  deviceId: 'd-1',
  office: east,
  placed,
  address: placed ? '10.0.0.1' : null,
  addresses: ['10.0.0.1'],
  topologyVersion: 1,
  updatedAt: '2026-01-01T00:00:00.000Z',
  parents: [],
});

test('devicesToPlace: devices with no office whose state changed, once per task and device', () => {
  const applied = [
    { taskId: 't1', deviceId: 'a', state: 'queued' as const, previousState: 'pending' as const, officeId: null },
    // Progress only: not asked about.
    { taskId: 't1', deviceId: 'b', state: 'downloading' as const, previousState: 'downloading' as const, officeId: null },
    // Office known already.
    { taskId: 't1', deviceId: 'c', state: 'succeeded' as const, previousState: 'downloading' as const, officeId: 'east' },
    { taskId: 't1', deviceId: 'a', state: 'downloading' as const, previousState: 'queued' as const, officeId: null },
    { taskId: 't2', deviceId: 'a', state: 'failed' as const, previousState: 'queued' as const, officeId: null },
  ];
  assert.deepEqual(devicesToPlace(applied), [
    { taskId: 't1', deviceId: 'a' },
    { taskId: 't2', deviceId: 'a' },
  ]);
  assert.deepEqual(devicesToPlace([]), []);
});

test('officeToRecord: a placed device its office, an unplaced one none, an unknown standing leaves what is recorded', () => {
  assert.deepEqual(officeToRecord({ kind: 'placed', office: placement(true) }), { id: 'east', name: 'East' });
  assert.equal(officeToRecord({ kind: 'placed', office: placement(false) }), null);
  assert.equal(officeToRecord({ kind: 'none', reason: 'no topology' }), undefined);
});

test('sameOffice: by ID and name; none only equals none', () => {
  assert.ok(sameOffice(null, null));
  assert.ok(sameOffice({ id: 'e', name: 'E' }, { id: 'e', name: 'E' }));
  assert.ok(!sameOffice({ id: 'e', name: 'E' }, { id: 'e', name: 'East' }));
  assert.ok(!sameOffice({ id: 'e', name: 'E' }, null));
  assert.ok(!sameOffice(null, { id: 'e', name: 'E' }));
});
