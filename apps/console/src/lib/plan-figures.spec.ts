import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planFiguresOf } from './plan-figures';

test('reads the estimate, the saving and each subnet that cannot share', () => {
  const figures = planFiguresOf({
    packageId: 'p',
    devices: 3,
    withSharing: { wanBytes: 1000, originBytes: 900, seconds: 12 },
    withoutSharing: { wanBytes: 3000, originBytes: 2700, seconds: 30 },
    savedWanBytes: 2000,
    subnets: [
      { subnet: '10.1.0.0/24', devices: 2, sharing: 'multicast', noSharing: null, withSharing: { wanBytes: 1000, seconds: 12 } },
      { subnet: null, devices: 1, sharing: 'none', noSharing: { code: 'no-subnet', message: 'no subnet known' }, withSharing: { wanBytes: 1000, seconds: 9 } },
    ],
    somethingNew: true,
  });
  assert.deepEqual(figures, {
    withSharing: { wanBytes: 1000, originBytes: 900, seconds: 12 },
    withoutSharing: { wanBytes: 3000, originBytes: 2700, seconds: 30 },
    savedWanBytes: 2000,
    devices: 3,
    subnets: [
      { subnet: '10.1.0.0/24', devices: 2, sharing: 'multicast', wanBytesWithSharing: 1000, noSharing: null },
      { subnet: null, devices: 1, sharing: 'none', wanBytesWithSharing: 1000, noSharing: 'no subnet known' },
    ],
  });
});

test('an answer without the two estimates is none this console can show', () => {
  assert.equal(planFiguresOf(null), null);
  assert.equal(planFiguresOf('text'), null);
  assert.equal(planFiguresOf({ withSharing: { wanBytes: 1 } }), null);
  // Without savedWanBytes the saving is the difference.
  assert.equal(planFiguresOf({ withSharing: { wanBytes: 10, seconds: 1 }, withoutSharing: { wanBytes: 25, seconds: 2 } })?.savedWanBytes, 15);
});
