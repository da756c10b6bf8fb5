import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OTHER_KEY, ServedBytesTally } from './served-bytes-tally';

test('tally: sums per subnet and per device, and resets to zero', () => {
  const tally = new ServedBytesTally();
  tally.add('10.0.0.0/24', 'a', 100);
  tally.add('10.0.0.0/24', 'b', 50);
  tally.add('10.0.1.0/24', 'a', 7);
  assert.deepEqual(tally.snapshot(), {
    total: 157,
    bySubnet: { '10.0.0.0/24': 150, '10.0.1.0/24': 7 },
    byDevice: { a: 107, b: 50 },
  });
  tally.reset();
  assert.deepEqual(tally.snapshot(), { total: 0, bySubnet: {}, byDevice: {} });
});

test('tally: past its limits, new devices and subnets count as "other" and the maps stop growing', () => {
  const tally = new ServedBytesTally({ devices: 2, subnets: 1 });
  tally.add('10.0.0.0/24', 'a', 1);
  tally.add('10.0.1.0/24', 'b', 2);
  tally.add('10.0.2.0/24', 'c', 4);
  tally.add('10.0.0.0/24', 'a', 8);
  assert.deepEqual(tally.snapshot(), {
    total: 15,
    bySubnet: { '10.0.0.0/24': 9, [OTHER_KEY]: 6 },
    byDevice: { a: 9, b: 2, [OTHER_KEY]: 4 },
  });
});
