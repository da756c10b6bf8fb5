import { z } from 'zod';
import { TopologyDocument, topologyDocumentSchema, TopologyProblem, TopologyProblemCode } from '@fleetcast/contracts';
import { compareRanges, contains, parseCidr, parseHostAddress, ParsedCidr } from './cidr';

export type TopologyValidationResult =
  | { ok: true; document: TopologyDocument; problems: [] }
  | { ok: false; problems: TopologyProblem[] };

/** A JSON pointer (RFC 6901) from path segments: `~` and `/` inside a segment are escaped. */
export function jsonPointer(segments: ReadonlyArray<string | number>): string {
  return segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/**
 * Checks a topology document and returns EVERY problem with its location, never only the first:
 * an administrator fixing a file of a thousand offices wants one list, not a thousand round trips.
 *
 * First the shape (every field, every office: zod reports all issues at once); the checks that
 * need the whole document run only on a document of the right shape, since they would otherwise
 * trip over the same missing fields again. A valid document comes back with every default filled
 * in and its subnets in canonical form. Pure.
 */
export function validateTopology(input: unknown): TopologyValidationResult {
  const parsed = topologyDocumentSchema.safeParse(input);
  if (!parsed.success) return { ok: false, problems: shapeProblems(parsed.error) };
  const document = parsed.data;
  const problems: TopologyProblem[] = [];
  const report = (code: TopologyProblemCode, path: ReadonlyArray<string | number>, message: string) =>
    problems.push({ code, path: jsonPointer(path), message });

  // Office IDs: the first use of an ID wins; a second one is a problem at its own place.
  const indexById = new Map<string, number>();
  document.offices.forEach((office, i) => {
    const first = indexById.get(office.id);
    if (first === undefined) indexById.set(office.id, i);
    else report('duplicate-office-id', ['offices', i, 'id'], `office ID "${office.id}" is already used by ${jsonPointer(['offices', first])}`);
  });

  const subnets = checkSubnets(document, report);
  const roots = checkTree(document, indexById, report);
  checkWanLinks(document, roots, report);
  checkOrigin(document, roots, subnets, report);

  if (document.defaultOffice !== null && !indexById.has(document.defaultOffice)) {
    report('unknown-default-office', ['defaultOffice'], `default office "${document.defaultOffice}" is not an office of this document`);
  }

  if (problems.length > 0) return { ok: false, problems };
  const canonical: TopologyDocument = {
    ...document,
    offices: document.offices.map((office, i) => ({ ...office, subnets: office.subnets.map((_, k) => subnets.parsed.get(`${i}/${k}`)!.cidr) })),
  };
  return { ok: true, document: canonical, problems: [] };
}

type Report = (code: TopologyProblemCode, path: ReadonlyArray<string | number>, message: string) => void;

function shapeProblems(error: z.ZodError): TopologyProblem[] {
  return error.issues.map((issue) => {
    // A union's issue says only "Invalid input": its own issues say what each branch wanted.
    const message = issue.code === z.ZodIssueCode.invalid_union ? issue.unionErrors.flatMap((e) => e.issues.map((i) => i.message)).join(', or ') : issue.message;
    return { code: 'schema' as const, path: jsonPointer(issue.path), message };
  });
}

interface SubnetEntry extends ParsedCidr {
  office: number;
  index: number;
}

/** Each subnet parsed, keyed `<office>/<index>`, and grouped by office for the origin check. */
interface CheckedSubnets {
  parsed: Map<string, ParsedCidr>;
  byOffice: Map<number, ParsedCidr[]>;
}

/**
 * Every subnet must be a network in CIDR form; none may appear twice, in one office or in two; and
 * no two may overlap, or a device in the smaller one would belong to two offices (or twice to one).
 */
function checkSubnets(document: TopologyDocument, report: Report): CheckedSubnets {
  const parsed = new Map<string, ParsedCidr>();
  const byOffice = new Map<number, ParsedCidr[]>();
  const entries: SubnetEntry[] = [];
  const firstByCidr = new Map<string, SubnetEntry>();
  document.offices.forEach((office, i) => {
    office.subnets.forEach((text, k) => {
      const path = ['offices', i, 'subnets', k];
      const result = parseCidr(text);
      if (!result.ok) {
        report(result.reason === 'host-bits-set' ? 'host-bits-set' : 'invalid-cidr', path, result.message);
        return;
      }
      const entry: SubnetEntry = { ...result.value, office: i, index: k };
      parsed.set(`${i}/${k}`, result.value);
      const first = firstByCidr.get(entry.cidr);
      if (first) {
        if (first.office === i) report('duplicate-subnet', path, `${entry.cidr} is listed twice in office "${office.id}" (also at ${jsonPointer(['offices', i, 'subnets', first.index])})`);
        else {
          const other = document.offices[first.office]!;
          report('subnet-in-two-offices', path, `${entry.cidr} is also a subnet of office "${other.id}" (${jsonPointer(['offices', first.office, 'subnets', first.index])})`);
        }
        return;
      }
      firstByCidr.set(entry.cidr, entry);
      entries.push(entry);
      byOffice.set(i, [...(byOffice.get(i) ?? []), result.value]);
    });
  });

  // Aligned networks either nest or are apart: sorted by first address (wider first), the networks
  // still open on a stack when one starts are exactly those that contain it. n log n, not n squared:
  // a document may hold a million subnet pairs.
  const sorted = [...entries].sort(compareRanges);
  const open: SubnetEntry[] = [];
  for (const entry of sorted) {
    while (open.length > 0 && (open[open.length - 1]!.family !== entry.family || open[open.length - 1]!.last < entry.first)) open.pop();
    for (const outer of open) {
      const where = outer.office === entry.office ? `also in office "${document.offices[entry.office]!.id}"` : `of office "${document.offices[outer.office]!.id}"`;
      report(
        'overlapping-subnets',
        ['offices', entry.office, 'subnets', entry.index],
        `${entry.cidr} overlaps ${outer.cidr} (${where}, ${jsonPointer(['offices', outer.office, 'subnets', outer.index])})`,
      );
    }
    open.push(entry);
  }
  return { parsed, byOffice };
}

/**
 * The offices must form one tree: every parent known, no cycles, exactly one office without a
 * parent (the central office). Returns the indexes of the offices without a parent.
 */
function checkTree(document: TopologyDocument, indexById: Map<string, number>, report: Report): number[] {
  const { offices } = document;
  const roots: number[] = [];
  offices.forEach((office, i) => {
    if (office.parent === null) {
      if (indexById.get(office.id) !== i) return; // a duplicate ID, reported already
      if (roots.length > 0) {
        const first = offices[roots[0]!]!;
        report('several-central-offices', ['offices', i, 'parent'], `office "${office.id}" has no parent, but "${first.id}" (${jsonPointer(['offices', roots[0]!])}) is already the central office: give it a parent`);
      }
      roots.push(i);
    } else if (!indexById.has(office.parent)) {
      report('unknown-parent', ['offices', i, 'parent'], `parent "${office.parent}" of office "${office.id}" is not an office of this document`);
    }
  });
  if (roots.length === 0) report('no-central-office', ['offices'], 'no office is without a parent: one office, the central office, must have parent null');

  // Follow each office's parents; meeting an office of the walk in progress closes a cycle, which is
  // reported once, at the member listed first.
  const state = new Array<'new' | 'walking' | 'done'>(offices.length).fill('new');
  for (let start = 0; start < offices.length; start++) {
    const walk: number[] = [];
    let at: number | undefined = start;
    while (at !== undefined && state[at] === 'new') {
      state[at] = 'walking';
      walk.push(at);
      const parent: string | null = offices[at]!.parent;
      at = parent === null ? undefined : indexById.get(parent);
    }
    if (at !== undefined && state[at] === 'walking') {
      const cycle = walk.slice(walk.indexOf(at));
      const first = Math.min(...cycle);
      const from = cycle.indexOf(first);
      const ordered = [...cycle.slice(from), ...cycle.slice(0, from)];
      const names = [...ordered, first].map((i) => `"${offices[i]!.id}"`).join(' -> ');
      report('cycle', ['offices', first, 'parent'], `offices ${names} form a cycle: none of them leads to the central office`);
    }
    for (const i of walk) state[i] = 'done';
  }
  return roots;
}

/** A branch office needs the bandwidth of its link to its parent; the central office has no parent to link to. */
function checkWanLinks(document: TopologyDocument, roots: number[], report: Report): void {
  document.offices.forEach((office, i) => {
    if (office.parent !== null && office.wan === null) {
      report('missing-wan-link', ['offices', i, 'wan'], `office "${office.id}" needs the WAN link to its parent "${office.parent}": wan: { bandwidthKbps: <kbit/s> }`);
    }
    if (office.parent === null && office.wan !== null && roots.includes(i)) {
      report('central-office-wan-link', ['offices', i, 'wan'], `office "${office.id}" is the central office: it has no parent to link to, so no wan`);
    }
  });
}

/** The origin distributes from the central office: every one of its addresses must lie in that office's subnets. */
function checkOrigin(document: TopologyDocument, roots: number[], subnets: CheckedSubnets, report: Report): void {
  if (roots.length === 0) return; // no central office: reported already
  const central = roots[0]!;
  const centralId = document.offices[central]!.id;
  document.origin.addresses.forEach((text, k) => {
    const path = ['origin', 'addresses', k];
    const host = parseHostAddress(text);
    if (!host) {
      report('origin-outside-central-office', path, `origin address ${text} is not a unicast address any office could hold`);
      return;
    }
    if ((subnets.byOffice.get(central) ?? []).some((s) => contains(s, host.family, host.value))) return;
    const holder = [...subnets.byOffice.entries()].find(([, list]) => list.some((s) => contains(s, host.family, host.value)));
    const where = holder ? `it lies in office "${document.offices[holder[0]]!.id}"` : 'it lies in no office';
    report('origin-outside-central-office', path, `origin address ${text} is outside the central office "${centralId}"'s subnets: ${where}`);
  });
}
