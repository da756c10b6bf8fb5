import { Office, TOPOLOGY_SUMMARY_MAX_IDS, TopologyChangeSummary, TopologyDocument } from '@fleetcast/contracts';

/** Whether two offices differ in anything a device or a planner sees (subnets compared as sets, the WAN link's bandwidth and rate cap). */
function officeChanged(a: Office, b: Office): boolean {
  const subnets = (o: Office) => [...o.subnets].sort().join(',');
  return a.name !== b.name || a.type !== b.type || a.parent !== b.parent || subnets(a) !== subnets(b) || (a.wan?.bandwidthKbps ?? null) !== (b.wan?.bandwidthKbps ?? null) || (a.wan?.rateCapKbps ?? null) !== (b.wan?.rateCapKbps ?? null);
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * What `next` changes against `previous` (null: the first version, everything added), for the
 * version's record and the `topology.changed` event. Both documents are validated and canonical,
 * so equal subnets are spelled alike. Pure.
 */
export function summariseChange(previous: TopologyDocument | null, next: TopologyDocument): TopologyChangeSummary {
  const before = new Map((previous?.offices ?? []).map((o) => [o.id, o]));
  const after = new Map(next.offices.map((o) => [o.id, o]));
  const added = next.offices.filter((o) => !before.has(o.id)).map((o) => o.id);
  const removed = (previous?.offices ?? []).filter((o) => !after.has(o.id)).map((o) => o.id);
  const changed = next.offices.filter((o) => before.has(o.id) && officeChanged(before.get(o.id)!, o)).map((o) => o.id);
  const subnetsBefore = new Set((previous?.offices ?? []).flatMap((o) => o.subnets));
  const subnetsAfter = new Set(next.offices.flatMap((o) => o.subnets));
  const subnetsAdded = [...subnetsAfter].filter((s) => !subnetsBefore.has(s)).length;
  const subnetsRemoved = [...subnetsBefore].filter((s) => !subnetsAfter.has(s)).length;
  const originChanged = previous !== null && [...previous.origin.addresses].sort().join(',') !== [...next.origin.addresses].sort().join(',');
  const defaultOfficeChanged = previous !== null && previous.defaultOffice !== next.defaultOffice;

  const listed = (ids: string[]) => {
    const shown = ids.slice(0, 5).join(', ');
    return ids.length > 5 ? `${shown}, ...` : shown;
  };
  const parts: string[] = [];
  if (added.length > 0) parts.push(`${plural(added.length, 'office', 'offices')} added (${listed(added)})`);
  if (removed.length > 0) parts.push(`${plural(removed.length, 'office', 'offices')} removed (${listed(removed)})`);
  if (changed.length > 0) parts.push(`${plural(changed.length, 'office', 'offices')} changed (${listed(changed)})`);
  if (subnetsAdded > 0) parts.push(`${plural(subnetsAdded, 'subnet', 'subnets')} added`);
  if (subnetsRemoved > 0) parts.push(`${plural(subnetsRemoved, 'subnet', 'subnets')} removed`);
  if (originChanged) parts.push('origin addresses changed');
  if (defaultOfficeChanged) parts.push(`default office now ${next.defaultOffice ?? 'the central office'}`);

  return {
    officesAdded: added.length,
    officesRemoved: removed.length,
    officesChanged: changed.length,
    subnetsAdded,
    subnetsRemoved,
    addedOfficeIds: added.slice(0, TOPOLOGY_SUMMARY_MAX_IDS),
    removedOfficeIds: removed.slice(0, TOPOLOGY_SUMMARY_MAX_IDS),
    changedOfficeIds: changed.slice(0, TOPOLOGY_SUMMARY_MAX_IDS),
    originChanged,
    defaultOfficeChanged,
    text: parts.length > 0 ? parts.join('; ') : 'no change',
  };
}
