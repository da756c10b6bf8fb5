import type { Plan, PlanEstimate, WanSavingsReport } from '@fleetcast/contracts';
import { formatBytes, formatDuration, keyValues, table } from './format';

const estimate = (e: PlanEstimate): string => `${formatBytes(e.wanBytes)} over the WAN, done in ${formatDuration(e.seconds)}`;
const percent = (ratio: number): string => `${(ratio * 100).toFixed(1)} %`;

/** A plan as a person reads it: the totals, then a table per subnet and one per office. Pure. */
export function formatPlan(plan: Plan): string {
  const s = plan.settings;
  const head = keyValues([
    ['package', `${plan.packageId} (${formatBytes(plan.packageBytes)})`],
    ['devices', `${plan.devices}${plan.excluded.length ? ` (+${plan.excluded.length} excluded: ${plan.excluded.map((e) => `${e.deviceId} ${e.code}`).join(', ')})` : ''}`],
    ['settings', `profile ${s.profileId}: multicast ${s.useMulticast ? 'on' : 'off'}, start delay ${s.sessionStartDelaySeconds}s, peers ${s.peerDownloadAllowed ? 'on' : 'off'}, LAN rate ${s.lanRateLimitKbps === null ? 'unlimited' : `${s.lanRateLimitKbps} kbit/s`}`],
    ['topology', plan.topologyVersion === null ? `none: every subnet behind its own ${plan.assumptions.defaultWanKbps} kbit/s link` : `version ${plan.topologyVersion}`],
    ['with sharing', estimate(plan.withSharing)],
    ['without sharing', estimate(plan.withoutSharing)],
    ['WAN saved', formatBytes(plan.savedWanBytes)],
  ]);
  const subnets = table(plan.subnets, [
    { header: 'subnet', value: (r) => r.subnet ?? '(none)' },
    { header: 'office', value: (r) => r.officeId ?? '' },
    { header: 'devices', value: (r) => r.devices },
    { header: 'sharing', value: (r) => (r.sharing === 'multicast' ? 'multicast' : `none (${r.noSharing?.code ?? ''})`) },
    { header: 'wan with', value: (r) => formatBytes(r.withSharing.wanBytes) },
    { header: 'time with', value: (r) => formatDuration(r.withSharing.seconds) },
    { header: 'wan without', value: (r) => formatBytes(r.withoutSharing.wanBytes) },
    { header: 'time without', value: (r) => formatDuration(r.withoutSharing.seconds) },
  ]);
  const parts = [head, '', subnets];
  if (plan.offices.length > 0) {
    parts.push(
      '',
      table(plan.offices, [
        { header: 'office', value: (o) => o.id },
        { header: 'type', value: (o) => o.type },
        { header: 'parent', value: (o) => o.parent ?? '' },
        { header: 'link', value: (o) => (o.wanBandwidthKbps === null ? '' : `${o.wanBandwidthKbps} kbit/s`) },
        { header: 'devices', value: (o) => o.devices },
        { header: 'link bytes with', value: (o) => formatBytes(o.withSharing.linkBytes) },
        { header: 'link bytes without', value: (o) => formatBytes(o.withoutSharing.linkBytes) },
        { header: 'time with', value: (o) => formatDuration(o.withSharing.seconds) },
        { header: 'time without', value: (o) => formatDuration(o.withoutSharing.seconds) },
      ]),
    );
  }
  return parts.join('\n');
}

/** The WAN savings report: a row per subnet or office, most saved first, and the totals. Pure. */
export function formatWanSavings(report: WanSavingsReport): string {
  const rows = table(report.items, [
    { header: report.groupBy, value: (r) => (r.key === null ? `(no ${report.groupBy})` : r.name ? `${r.key} (${r.name})` : r.key) },
    { header: 'origin', value: (r) => formatBytes(r.bytes.origin) },
    { header: 'parent', value: (r) => formatBytes(r.bytes.parent ?? 0) },
    { header: 'multicast', value: (r) => formatBytes(r.bytes.multicast) },
    { header: 'peer', value: (r) => formatBytes(r.bytes.peer) },
    { header: 'saved', value: (r) => formatBytes(r.savedBytes) },
    { header: 'saved %', value: (r) => percent(r.savedRatio) },
  ]);
  const t = report.totals;
  return [
    `${report.from} to ${report.to}${report.topologyVersion === null ? '' : ` (offices of topology version ${report.topologyVersion})`}`,
    rows,
    `total: ${formatBytes(t.savedBytes)} saved of ${formatBytes(t.bytes.origin + (t.bytes.parent ?? 0) + t.bytes.multicast + t.bytes.peer)} delivered (${percent(t.savedRatio)}); ` +
      `${formatBytes(t.bytes.origin)} from the origin${t.bytes.parent ? `, ${formatBytes(t.bytes.parent)} from parent offices` : ''}`,
  ].join('\n');
}
