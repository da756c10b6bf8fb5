import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { networkOf, overlaps, parseCidr, parseHostAddress } from './cidr';

describe('CIDR parsing', () => {
  const good: Array<[string, string, bigint, bigint]> = [
    ['10.1.2.0/24', '10.1.2.0/24', 0x0a010200n, 0x0a0102ffn],
    ['0.0.0.0/0', '0.0.0.0/0', 0n, 0xffffffffn],
    ['192.0.2.7/32', '192.0.2.7/32', 0xc0000207n, 0xc0000207n],
    ['2001:DB8:0:0::/48', '2001:db8::/48', 0x20010db8n << 96n, (0x20010db8n << 96n) + (1n << 80n) - 1n],
  ];
  for (const [text, cidr, first, last] of good) {
    it(`reads ${text}`, () => {
      const result = parseCidr(text);
      assert.ok(result.ok);
      assert.deepEqual([result.value.cidr, result.value.first, result.value.last], [cidr, first, last]);
    });
  }

  const bad: Array<[string, 'invalid' | 'host-bits-set']> = [
    ['10.1.2.0', 'invalid'],
    ['10.1.2.0/', 'invalid'],
    ['10.1.2.0/24/1', 'invalid'],
    ['10.1/16', 'invalid'],
    ['0x0a.0.0.0/8', 'invalid'],
    ['10.1.2.0/33', 'invalid'],
    ['2001:db8::/129', 'invalid'],
    ['fe80::%eth0/64', 'invalid'],
    ['10.1.2.1/24', 'host-bits-set'],
    ['2001:db8::1/64', 'host-bits-set'],
  ];
  for (const [text, reason] of bad) {
    it(`refuses ${text} (${reason})`, () => {
      const result = parseCidr(text);
      assert.equal(result.ok, false);
      if (!result.ok) assert.equal(result.reason, reason);
    });
  }

  it('tells overlap apart from adjacency and from another family', () => {
    const p = (t: string) => {
      const r = parseCidr(t);
      assert.ok(r.ok);
      return r.value;
    };
    assert.equal(overlaps(p('10.0.0.0/8'), p('10.200.0.0/16')), true);
    assert.equal(overlaps(p('10.0.0.0/24'), p('10.0.1.0/24')), false);
    assert.equal(overlaps(p('0.0.0.0/0'), p('::/0')), false);
  });

  it('derives an interface\'s network and skips unusable addresses', () => {
    assert.equal(networkOf('10.1.2.77', 24)?.cidr, '10.1.2.0/24');
    assert.equal(networkOf('::ffff:10.1.2.77', 120)?.cidr, '10.1.2.0/24');
    assert.equal(networkOf('2001:db8:1::77', 64)?.cidr, '2001:db8:1::/64');
    assert.equal(networkOf('127.0.0.1', 8), null);
    assert.equal(networkOf('10.1.2.3', 40), null);
    assert.equal(parseHostAddress('fe80::1'), null);
    assert.equal(parseHostAddress('not an address'), null);
  });
});
