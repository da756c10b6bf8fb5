import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { TopologyDocument } from '@fleetcast/contracts';
import { summariseChange } from './topology-diff';

const doc = (offices: TopologyDocument['offices'], origin = ['10.0.0.10']): TopologyDocument => ({ schemaVersion: 1, origin: { addresses: origin }, defaultOffice: null, offices });
const hq = { id: 'hq', name: 'HQ', type: 'default' as const, parent: null, subnets: ['10.0.0.0/16'], wan: null };
const paris = { id: 'paris', name: 'Paris', type: 'default' as const, parent: 'hq', subnets: ['10.1.0.0/24'], wan: { bandwidthKbps: 1000 } };

describe('topology change summary', () => {
  it('counts everything as added for the first version', () => {
    const s = summariseChange(null, doc([hq, paris]));
    assert.deepEqual([s.officesAdded, s.officesRemoved, s.officesChanged, s.subnetsAdded, s.subnetsRemoved], [2, 0, 0, 2, 0]);
    assert.deepEqual(s.addedOfficeIds, ['hq', 'paris']);
    assert.equal(s.originChanged, false);
    assert.equal(s.text, '2 offices added (hq, paris); 2 subnets added');
  });

  it('names added, removed and changed offices, subnets and the origin', () => {
    const lyon = { ...paris, id: 'lyon', subnets: ['10.2.0.0/24'] };
    const s = summariseChange(doc([hq, paris]), doc([{ ...hq, subnets: ['10.0.0.0/16', '10.9.0.0/24'] }, lyon], ['10.0.0.11']));
    assert.deepEqual([s.officesAdded, s.officesRemoved, s.officesChanged, s.subnetsAdded, s.subnetsRemoved], [1, 1, 1, 2, 1]);
    assert.deepEqual([s.addedOfficeIds, s.removedOfficeIds, s.changedOfficeIds], [['lyon'], ['paris'], ['hq']]);
    assert.equal(s.originChanged, true);
    assert.equal(s.text, '1 office added (lyon); 1 office removed (paris); 1 office changed (hq); 2 subnets added; 1 subnet removed; origin addresses changed');
  });

  it('sees a change of type or bandwidth, not of subnet order', () => {
    assert.equal(summariseChange(doc([hq, paris]), doc([hq, { ...paris, type: 'vpn' }])).officesChanged, 1);
    assert.equal(summariseChange(doc([hq, paris]), doc([hq, { ...paris, wan: { bandwidthKbps: 2000 } }])).officesChanged, 1);
    const two = { ...hq, subnets: ['10.0.0.0/16', '10.5.0.0/16'] };
    assert.equal(summariseChange(doc([two]), doc([{ ...two, subnets: ['10.5.0.0/16', '10.0.0.0/16'] }])).text, 'no change');
  });
});
