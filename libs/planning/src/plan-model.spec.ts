import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_AGENT_SETTINGS } from '@fleetcast/contracts';
import { DEFAULT_PLAN_ASSUMPTIONS, planDistribution, PlanModelError, PlanModelInput, PlanTopology } from './plan-model';

const MiB = 1024 * 1024;
const A = DEFAULT_PLAN_ASSUMPTIONS;
const settings = { ...DEFAULT_AGENT_SETTINGS };
/** Seconds to move `copies` wire copies of `bytes` over `kbps`. */
const transfer = (bytes: number, copies: number, kbps: number): number => (bytes * A.wireOverhead * copies * 8) / (kbps * 1000);
const close = (got: number, want: number, what: string) => assert.ok(Math.abs(got - want) <= 0.051, `${what}: ${got} != ${want.toFixed(2)}`);

const branch = (id: string, parent: string, kbps: number, subnets: string[], type: 'default' | 'vpn' | 'wifi' = 'default') => ({ id, name: id, type, parent, subnets, wan: { bandwidthKbps: kbps } });
const hq = { id: 'hq', name: 'HQ', type: 'default' as const, parent: null, subnets: ['10.0.0.0/16'], wan: null };
const topo = (...offices: PlanTopology['offices'][number][]): PlanTopology => ({ version: 3, defaultOffice: null, offices: [hq, ...offices] });

interface Case {
  name: string;
  input: PlanModelInput;
  /** Per subnet (by CIDR): sharing, WAN copies and seconds with and without sharing. */
  want: Record<string, { sharing: 'multicast' | 'none'; code?: string; withCopies: number; withSeconds: number; withoutCopies: number; withoutSeconds: number }>;
}

const size = 20 * MiB;
const cases: Case[] = [
  {
    name: 'no topology: every subnet alone behind the default link; multicast after the devices joined',
    input: { packageBytes: size, subnets: [{ subnet: '10.1.1.0/24', devices: 5 }, { subnet: '10.1.2.0/24', devices: 5 }], topology: null, settings, assumptions: { defaultWanKbps: 20_000 } },
    want: {
      '10.1.1.0/24': { sharing: 'multicast', withCopies: 1, withSeconds: A.startupSeconds + A.joinSeconds + transfer(size, 1, 20_000) + A.sessionCloseSeconds + A.finishSeconds, withoutCopies: 5, withoutSeconds: A.startupSeconds + transfer(size, 5, 20_000) + A.finishSeconds },
      '10.1.2.0/24': { sharing: 'multicast', withCopies: 1, withSeconds: A.startupSeconds + A.joinSeconds + transfer(size, 1, 20_000) + A.sessionCloseSeconds + A.finishSeconds, withoutCopies: 5, withoutSeconds: A.startupSeconds + transfer(size, 5, 20_000) + A.finishSeconds },
    },
  },
  {
    name: 'the profile disables multicast: once per device either way',
    input: { packageBytes: size, subnets: [{ subnet: '10.1.1.0/24', devices: 4 }], topology: null, settings: { ...settings, useMulticast: false }, assumptions: { defaultWanKbps: 10_000 } },
    want: {
      '10.1.1.0/24': { sharing: 'none', code: 'profile-disables-multicast', withCopies: 4, withSeconds: A.startupSeconds + transfer(size, 4, 10_000) + A.finishSeconds, withoutCopies: 4, withoutSeconds: A.startupSeconds + transfer(size, 4, 10_000) + A.finishSeconds },
    },
  },
  {
    name: 'a start delay shorter than the join time starts the session at the delay',
    input: { packageBytes: size, subnets: [{ subnet: '10.1.1.0/24', devices: 3 }], topology: null, settings: { ...settings, sessionStartDelaySeconds: 0 }, assumptions: { defaultWanKbps: 20_000 } },
    want: {
      '10.1.1.0/24': { sharing: 'multicast', withCopies: 1, withSeconds: A.startupSeconds + transfer(size, 1, 20_000) + A.sessionCloseSeconds + A.finishSeconds, withoutCopies: 3, withoutSeconds: A.startupSeconds + transfer(size, 3, 20_000) + A.finishSeconds },
    },
  },
  {
    name: 'a LAN rate limit below the WAN makes the LAN the bottleneck',
    input: { packageBytes: size, subnets: [{ subnet: '10.1.1.0/24', devices: 3 }], topology: null, settings: { ...settings, lanRateLimitKbps: 8_000 }, assumptions: { defaultWanKbps: 20_000 } },
    want: {
      '10.1.1.0/24': { sharing: 'multicast', withCopies: 1, withSeconds: A.startupSeconds + A.joinSeconds + (size * A.lanOverhead * 8) / 8_000_000 + A.sessionCloseSeconds + A.finishSeconds, withoutCopies: 3, withoutSeconds: A.startupSeconds + transfer(size, 3, 20_000) + A.finishSeconds },
    },
  },
  {
    name: 'behind a WAN link faster than a multicast session sustains, the LAN bounds the time',
    input: { packageBytes: size, subnets: [{ subnet: '10.1.1.0/24', devices: 6 }], topology: null, settings, assumptions: { defaultWanKbps: 100_000 } },
    want: {
      '10.1.1.0/24': { sharing: 'multicast', withCopies: 1, withSeconds: A.startupSeconds + A.joinSeconds + (size * A.lanOverhead * 8) / (A.multicastKbps * 1000) + A.sessionCloseSeconds + A.finishSeconds, withoutCopies: 6, withoutSeconds: A.startupSeconds + transfer(size, 6, 100_000) + A.finishSeconds },
    },
  },
  {
    name: 'sibling branches share their region link to the central office',
    input: {
      packageBytes: size,
      subnets: [{ subnet: '10.1.1.0/24', devices: 5 }, { subnet: '10.1.2.0/24', devices: 5 }],
      topology: topo({ id: 'region', name: 'Region', type: 'default', parent: 'hq', subnets: ['10.9.0.0/24'], wan: { bandwidthKbps: 20_000 } }, branch('a', 'region', 20_000, ['10.1.1.0/24']), branch('b', 'region', 20_000, ['10.1.2.0/24'])),
      settings,
    },
    want: {
      // Two copies (one per branch) share the region's 20 Mbit/s; without sharing, ten do.
      '10.1.1.0/24': { sharing: 'multicast', withCopies: 1, withSeconds: A.startupSeconds + A.joinSeconds + transfer(size, 2, 20_000) + A.sessionCloseSeconds + A.finishSeconds, withoutCopies: 5, withoutSeconds: A.startupSeconds + transfer(size, 10, 20_000) + A.finishSeconds },
      '10.1.2.0/24': { sharing: 'multicast', withCopies: 1, withSeconds: A.startupSeconds + A.joinSeconds + transfer(size, 2, 20_000) + A.sessionCloseSeconds + A.finishSeconds, withoutCopies: 5, withoutSeconds: A.startupSeconds + transfer(size, 10, 20_000) + A.finishSeconds },
    },
  },
  {
    name: 'vpn and wifi offices take no part in multicast sessions',
    input: {
      packageBytes: size,
      subnets: [{ subnet: '10.1.1.0/24', devices: 2 }, { subnet: '10.1.2.0/24', devices: 2 }],
      topology: topo(branch('remote', 'hq', 10_000, ['10.1.1.0/24'], 'vpn'), branch('cafe', 'hq', 10_000, ['10.1.2.0/24'], 'wifi')),
      settings,
    },
    want: {
      '10.1.1.0/24': { sharing: 'none', code: 'office-type', withCopies: 2, withSeconds: A.startupSeconds + transfer(size, 2, 10_000) + A.finishSeconds, withoutCopies: 2, withoutSeconds: A.startupSeconds + transfer(size, 2, 10_000) + A.finishSeconds },
      '10.1.2.0/24': { sharing: 'none', code: 'office-type', withCopies: 2, withSeconds: A.startupSeconds + transfer(size, 2, 10_000) + A.finishSeconds, withoutCopies: 2, withoutSeconds: A.startupSeconds + transfer(size, 2, 10_000) + A.finishSeconds },
    },
  },
  {
    name: "the central office's devices cross no WAN link",
    input: { packageBytes: size, subnets: [{ subnet: '10.0.3.0/24', devices: 4 }], topology: topo(), settings },
    want: {
      '10.0.3.0/24': { sharing: 'multicast', withCopies: 0, withSeconds: A.startupSeconds + A.joinSeconds + Math.max(transfer(size, 1, A.lanKbps), (size * A.lanOverhead * 8) / (A.multicastKbps * 1000)) + A.sessionCloseSeconds + A.finishSeconds, withoutCopies: 0, withoutSeconds: A.startupSeconds + transfer(size, 4, A.originKbps) + A.finishSeconds },
    },
  },
];

describe('planDistribution', () => {
  for (const c of cases) {
    it(c.name, () => {
      const plan = planDistribution(c.input);
      const copy = c.input.packageBytes * plan.assumptions.wireOverhead;
      assert.equal(plan.subnets.length, Object.keys(c.want).length);
      for (const s of plan.subnets) {
        const want = c.want[s.subnet!];
        assert.ok(want, `unexpected subnet ${s.subnet}`);
        assert.equal(s.sharing, want.sharing, `${s.subnet} sharing`);
        assert.equal(s.noSharing?.code, want.code, `${s.subnet} reason`);
        assert.equal(s.withSharing.wanBytes, Math.round(copy * want.withCopies), `${s.subnet} WAN bytes with sharing`);
        assert.equal(s.withoutSharing.wanBytes, Math.round(copy * want.withoutCopies), `${s.subnet} WAN bytes without`);
        assert.equal(s.withSharing.originBytes, c.input.packageBytes * (want.sharing === 'multicast' ? 1 : s.devices));
        close(s.withSharing.seconds, want.withSeconds, `${s.subnet} seconds with sharing`);
        close(s.withoutSharing.seconds, want.withoutSeconds, `${s.subnet} seconds without`);
      }
      assert.equal(plan.withSharing.wanBytes, plan.subnets.reduce((n, s) => n + s.withSharing.wanBytes, 0));
      assert.equal(plan.savedWanBytes, plan.withoutSharing.wanBytes - plan.withSharing.wanBytes);
      assert.equal(plan.withSharing.seconds, Math.max(...plan.subnets.map((s) => s.withSharing.seconds)));
    });
  }

  it("sums each office's own subnets and what its link carries for the offices below", () => {
    const plan = planDistribution({
      packageBytes: size,
      subnets: [{ subnet: '10.1.1.0/24', devices: 5 }, { subnet: '10.1.2.0/24', devices: 3 }, { subnet: '10.9.0.0/24', devices: 2 }],
      topology: topo({ id: 'region', name: 'Region', type: 'default', parent: 'hq', subnets: ['10.9.0.0/24'], wan: { bandwidthKbps: 50_000 } }, branch('a', 'region', 20_000, ['10.1.1.0/24']), branch('b', 'region', 20_000, ['10.1.2.0/24'])),
      settings,
    });
    const wire = (copies: number) => Math.round(size * plan.assumptions.wireOverhead * copies);
    const copy = wire(1);
    const region = plan.offices.find((o) => o.id === 'region')!;
    assert.deepEqual(plan.offices.map((o) => o.id), ['region', 'a', 'b']);
    assert.equal(region.devices, 2);
    assert.equal(region.withSharing.wanBytes, copy);
    assert.equal(region.withSharing.linkBytes, 3 * copy);
    assert.equal(region.withoutSharing.linkBytes, wire(5) + wire(3) + wire(2));
    assert.equal(plan.offices.find((o) => o.id === 'a')!.withoutSharing.linkBytes, wire(5));
  });

  it('devices without a subnet download alone, each behind the default link', () => {
    const plan = planDistribution({ packageBytes: size, subnets: [{ subnet: null, devices: 3 }], topology: null, settings, assumptions: { defaultWanKbps: 20_000 } });
    assert.equal(plan.subnets[0].noSharing?.code, 'no-subnet');
    close(plan.subnets[0].withSharing.seconds, A.startupSeconds + transfer(size, 1, 20_000) + A.finishSeconds, 'seconds');
    assert.equal(plan.withSharing.wanBytes, Math.round(size * A.wireOverhead * 3));
  });

  it('an empty target set plans nothing', () => {
    const plan = planDistribution({ packageBytes: size, subnets: [], topology: null, settings });
    assert.deepEqual(plan.withSharing, { wanBytes: 0, originBytes: 0, seconds: 0 });
    assert.equal(plan.subnets.length, 0);
  });

  it('refuses an assumption of no bandwidth', () => {
    assert.throws(() => planDistribution({ packageBytes: size, subnets: [], topology: null, settings, assumptions: { defaultWanKbps: 0 } }), PlanModelError);
  });
});
