import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fairRates, FlowGroup, Link, simulateFlows } from './flow-model';

const links = (...l: Array<[string, number]>): Link[] => l.map(([id, bytesPerSecond]) => ({ id, bytesPerSecond }));
const group = (id: string, connections: number, bytes: number, path: string[], startSeconds = 0, cap: number | null = null): FlowGroup => ({
  id,
  connections,
  bytesPerConnection: bytes,
  path,
  startSeconds,
  capBytesPerSecond: cap,
});

describe('fairRates (max-min fair share per connection)', () => {
  const cases: Array<{ name: string; links: Link[]; groups: FlowGroup[]; want: Record<string, number> }> = [
    { name: 'one link, equal connections', links: links(['l', 100]), groups: [group('a', 1, 1, ['l']), group('b', 3, 1, ['l'])], want: { a: 25, b: 25 } },
    { name: 'a capped connection leaves the rest to the others', links: links(['l', 100]), groups: [group('a', 1, 1, ['l'], 0, 10), group('b', 2, 1, ['l'])], want: { a: 10, b: 45 } },
    {
      name: 'a shared parent link and a slower branch link',
      links: links(['parent', 100], ['x', 20], ['y', 1000]),
      groups: [group('x', 1, 1, ['parent', 'x']), group('y', 1, 1, ['parent', 'y'])],
      want: { x: 20, y: 80 },
    },
    { name: 'no link and no cap: unbounded', links: [], groups: [group('a', 1, 1, [])], want: { a: Infinity } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const rates = fairRates(new Map(c.links.map((l) => [l.id, l])), c.groups);
      for (const [id, rate] of Object.entries(c.want)) {
        if (rate === Infinity) assert.equal(rates.get(id), Infinity);
        else assert.ok(Math.abs(rates.get(id)! - rate) < 1e-6, `${id}: ${rates.get(id)} != ${rate}`);
      }
    });
  }
});

describe('simulateFlows', () => {
  it('a group that ends frees its share for the others', () => {
    // 100 B/s shared: both at 50 until a (100 B) ends at 2 s; b has 200 left of 300 and then runs at 100: ends at 4 s.
    const ends = simulateFlows(links(['l', 100]), [group('a', 1, 100, ['l']), group('b', 1, 300, ['l'])]);
    assert.equal(ends.get('a'), 2);
    assert.equal(ends.get('b'), 4);
  });

  it('a later start waits for its time', () => {
    const ends = simulateFlows(links(['l', 100]), [group('a', 1, 100, ['l'], 5)]);
    assert.equal(ends.get('a'), 6);
  });

  it('a group of n connections moves n copies through the link', () => {
    const ends = simulateFlows(links(['l', 100]), [group('a', 5, 100, ['l'])]);
    assert.equal(ends.get('a'), 5);
  });

  it('nothing to send ends at its start', () => {
    const ends = simulateFlows(links(['l', 100]), [group('a', 3, 0, ['l'], 1.5)]);
    assert.equal(ends.get('a'), 1.5);
  });
});
