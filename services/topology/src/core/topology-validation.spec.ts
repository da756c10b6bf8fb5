import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { TopologyDocumentInput, TopologyProblemCode } from '@fleetcast/contracts';
import { jsonPointer, validateTopology } from './topology-validation';

/** A valid document: a central office with the origin, two branches, one below the other. */
function base(): TopologyDocumentInput & { offices: Array<Record<string, unknown>> } {
  return {
    schemaVersion: 1,
    origin: { addresses: ['10.0.0.10'] },
    offices: [
      { id: 'hq', name: 'Headquarters', subnets: ['10.0.0.0/16', '2001:db8::/48'] },
      { id: 'paris', name: 'Paris', type: 'wifi', parent: 'hq', subnets: ['10.1.0.0/24'], wan: { bandwidthKbps: 20000 } },
      { id: 'lyon', name: 'Lyon', type: 'vpn', parent: 'paris', subnets: ['10.2.0.0/24', '2001:db8:2::/64'], wan: { bandwidthKbps: 5000 } },
    ],
  };
}

type Problem = [TopologyProblemCode, string, RegExp?];

/** Each case changes the valid document and lists every problem expected, in order. */
const cases: Array<{ name: string; change: (d: ReturnType<typeof base>) => unknown; problems: Problem[] }> = [
  { name: 'a valid document', change: (d) => d, problems: [] },
  {
    name: 'shape problems, all of them at once',
    change: (d) => ({ ...d, schemaVersion: 2, offices: [{ ...d.offices[0], id: 'has space' }, { ...d.offices[1], subnet: ['x'] }, { ...d.offices[2], type: 'lan' }] }),
    problems: [
      ['schema', '/schemaVersion', /Invalid literal value, expected 1/],
      ['schema', '/offices/0/id', /A-Z, a-z, 0-9/],
      ['schema', '/offices/1', /Unrecognized key\(s\) in object: 'subnet'/],
      ['schema', '/offices/2/type', /Expected 'default' \| 'vpn' \| 'wifi', received 'lan'/],
    ],
  },
  { name: 'not an object at all', change: () => 'offices: []', problems: [['schema', '', /Expected object, received string/]] },
  {
    name: 'a duplicate office ID',
    change: (d) => ({ ...d, offices: [...d.offices, { id: 'paris', name: 'Paris 2', parent: 'hq', subnets: ['10.9.0.0/24'], wan: { bandwidthKbps: 1 } }] }),
    problems: [['duplicate-office-id', '/offices/3/id', /"paris" is already used by \/offices\/1/]],
  },
  {
    name: 'bad CIDRs and host bits',
    change: (d) => {
      d.offices[1]!.subnets = ['10.1.0.0', '10.1.0.0/33', '10.1/16', 'fe80::1%eth0/64', '10.1.0.5/24'];
      return d;
    },
    problems: [
      ['invalid-cidr', '/offices/1/subnets/0', /not a network in CIDR form/],
      ['invalid-cidr', '/offices/1/subnets/1', /not a prefix length of IPv4 \(0-32\)/],
      ['invalid-cidr', '/offices/1/subnets/2', /"10.1" .* is not an IPv4 or IPv6 address/],
      ['invalid-cidr', '/offices/1/subnets/3', /not an IPv4 or IPv6 address/],
      ['host-bits-set', '/offices/1/subnets/4', /the network is 10\.1\.0\.0\/24/],
    ],
  },
  {
    name: 'a subnet twice in one office, and the same one in two offices (spelled differently)',
    change: (d) => {
      d.offices[1]!.subnets = ['10.1.0.0/24', '10.1.0.0/24'];
      d.offices[2]!.subnets = ['2001:DB8:0:0::/48'];
      return d;
    },
    problems: [
      ['duplicate-subnet', '/offices/1/subnets/1', /listed twice in office "paris" \(also at \/offices\/1\/subnets\/0\)/],
      ['subnet-in-two-offices', '/offices/2/subnets/0', /2001:db8::\/48 is also a subnet of office "hq" \(\/offices\/0\/subnets\/1\)/],
    ],
  },
  {
    name: 'overlapping subnets across offices and within one, IPv4 and IPv6',
    change: (d) => {
      d.offices[1]!.subnets = ['10.0.5.0/24', '10.1.0.0/24'];
      d.offices[2]!.subnets = ['10.1.0.128/25', '2001:db8:0:1::/64', '10.2.0.0/16', '10.2.3.0/24'];
      return d;
    },
    problems: [
      ['overlapping-subnets', '/offices/1/subnets/0', /10\.0\.5\.0\/24 overlaps 10\.0\.0\.0\/16 \(of office "hq", \/offices\/0\/subnets\/0\)/],
      ['overlapping-subnets', '/offices/2/subnets/0', /10\.1\.0\.128\/25 overlaps 10\.1\.0\.0\/24 \(of office "paris"/],
      ['overlapping-subnets', '/offices/2/subnets/3', /10\.2\.3\.0\/24 overlaps 10\.2\.0\.0\/16 \(also in office "lyon"/],
      ['overlapping-subnets', '/offices/2/subnets/1', /2001:db8:0:1::\/64 overlaps 2001:db8::\/48/],
    ],
  },
  {
    name: 'an unknown parent',
    change: (d) => {
      d.offices[2]!.parent = 'marseille';
      return d;
    },
    problems: [['unknown-parent', '/offices/2/parent', /parent "marseille" of office "lyon" is not an office/]],
  },
  {
    name: 'a cycle, reported once at its first member, and no central office left',
    change: (d) => {
      d.offices[0]!.parent = 'lyon';
      d.offices[0]!.wan = { bandwidthKbps: 1000 };
      return d;
    },
    problems: [
      ['no-central-office', '/offices', /no office is without a parent/],
      ['cycle', '/offices/0/parent', /"hq" -> "lyon" -> "paris" -> "hq" form a cycle/],
    ],
  },
  {
    name: 'an office that is its own parent',
    change: (d) => ({ ...d, offices: [...d.offices, { id: 'loop', name: 'Loop', parent: 'loop', wan: { bandwidthKbps: 1 } }] }),
    problems: [['cycle', '/offices/3/parent', /"loop" -> "loop" form a cycle/]],
  },
  {
    name: 'two central offices',
    change: (d) => {
      d.offices[2]!.parent = null;
      d.offices[2]!.wan = null;
      return d;
    },
    problems: [['several-central-offices', '/offices/2/parent', /"lyon" has no parent, but "hq" \(\/offices\/0\) is already the central office/]],
  },
  {
    name: 'a branch without a WAN link, and a central office with one',
    change: (d) => {
      d.offices[1]!.wan = null;
      d.offices[0]!.wan = { bandwidthKbps: 1000 };
      return d;
    },
    problems: [
      ['central-office-wan-link', '/offices/0/wan', /"hq" is the central office/],
      ['missing-wan-link', '/offices/1/wan', /"paris" needs the WAN link to its parent "hq"/],
    ],
  },
  {
    name: 'the origin outside the central office: in a branch, and in no office',
    change: (d) => ({ ...d, origin: { addresses: ['10.0.0.10', '10.1.0.7', '192.0.2.1', '2001:db8::10'] } }),
    problems: [
      ['origin-outside-central-office', '/origin/addresses/1', /10\.1\.0\.7 is outside the central office "hq"'s subnets: it lies in office "paris"/],
      ['origin-outside-central-office', '/origin/addresses/2', /192\.0\.2\.1 .* it lies in no office/],
    ],
  },
  {
    name: 'an unknown default office',
    change: (d) => ({ ...d, defaultOffice: 'nowhere' }),
    problems: [['unknown-default-office', '/defaultOffice', /"nowhere" is not an office/]],
  },
];

describe('topology validation', () => {
  for (const { name, change, problems } of cases) {
    it(name, () => {
      const result = validateTopology(change(base()));
      const found = result.problems.map((p) => [p.code, p.path, p.message]);
      assert.deepEqual(
        found.map(([code, path]) => [code, path]),
        problems.map(([code, path]) => [code, path]),
        JSON.stringify(result.problems, null, 2),
      );
      problems.forEach(([, , message], i) => message && assert.match(found[i]![2]!, message));
      assert.equal(result.ok, problems.length === 0);
    });
  }

  it('fills in the defaults and writes every subnet in its canonical form', () => {
    const input = base();
    input.offices[0]!.subnets = ['10.0.0.0/16', '2001:DB8:0:0:0::/48'];
    const result = validateTopology(input);
    assert.ok(result.ok, JSON.stringify(result.problems));
    assert.deepEqual(result.document.offices[0], { id: 'hq', name: 'Headquarters', type: 'default', parent: null, subnets: ['10.0.0.0/16', '2001:db8::/48'], wan: null });
    assert.equal(result.document.defaultOffice, null);
  });

  it('reports every problem of a document with many at once, each where it is', () => {
    const input = base();
    input.offices[1]!.subnets = ['10.0.1.0/24'];
    input.offices[2]!.parent = 'nowhere';
    input.offices[2]!.wan = null;
    const result = validateTopology({ ...input, defaultOffice: 'gone' });
    assert.deepEqual(result.problems.map((p) => `${p.code} ${p.path}`), [
      'overlapping-subnets /offices/1/subnets/0',
      'unknown-parent /offices/2/parent',
      'missing-wan-link /offices/2/wan',
      'unknown-default-office /defaultOffice',
    ]);
  });

  it('escapes JSON pointer segments', () => {
    assert.equal(jsonPointer(['offices', 0, 'a/b~c']), '/offices/0/a~1b~0c');
    assert.equal(jsonPointer([]), '');
  });
});
