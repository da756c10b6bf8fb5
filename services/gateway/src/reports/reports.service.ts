import { Injectable } from '@nestjs/common';
import { BytesBySource, emptyBytesBySource, ReportsRpc, savedBytesOf, TopologyRpc, WanSavingsQuery, WanSavingsReport, WanSavingsRow, wanBytesOf } from '@fleetcast/contracts';
import { RpcClient } from '@fleetcast/nats';
import { placeSubnets } from '@fleetcast/planning';

/**
 * A row of bytes with what the LAN saved: multicast and peers against the whole. Bytes from the
 * parent office crossed the office's WAN link (if not the origin's): not saved.
 */
export function savingsRow(key: string | null, name: string | null, bytes: BytesBySource): WanSavingsRow {
  const saved = savedBytesOf(bytes);
  const all = saved + wanBytesOf(bytes);
  return { key, name, bytes, savedBytes: saved, savedRatio: all === 0 ? 0 : saved / all };
}

/** Sums rows of bytes by a key. */
function sumBy<T>(rows: readonly T[], keyOf: (row: T) => string | null, bytesOf: (row: T) => BytesBySource): Map<string | null, BytesBySource> {
  const sums = new Map<string | null, BytesBySource>();
  for (const row of rows) {
    const key = keyOf(row);
    const to = sums.get(key) ?? emptyBytesBySource();
    const b = bytesOf(row);
    to.origin += b.origin;
    to.parent += b.parent;
    to.multicast += b.multicast;
    to.peer += b.peer;
    sums.set(key, to);
  }
  return sums;
}

/**
 * The fleet-wide WAN savings report: the tasks service's hourly bytes by source per subnet, summed
 * over the range, per subnet or per office of the current topology (a subnet belongs to the office
 * whose network holds it, as the planner places it).
 */
@Injectable()
export class ReportsService {
  constructor(private readonly rpc: RpcClient) {}

  async wanSavings(query: WanSavingsQuery): Promise<WanSavingsReport> {
    const [{ items }, topology] = await Promise.all([
      this.rpc.call(ReportsRpc.bytesBySubnet, { from: query.from, to: query.to }),
      // Asked only when needed: without a topology, groupBy=office is TOPOLOGY.NO_TOPOLOGY (404).
      query.groupBy === 'office' ? this.rpc.call(TopologyRpc.get, {}) : Promise.resolve(null),
    ]);
    let rows: WanSavingsRow[];
    if (topology === null) {
      rows = items.map((i) => savingsRow(i.subnet, null, i.bytes));
    } else {
      const doc = topology.document;
      const central = doc.offices.find((o) => o.parent === null)?.id ?? null;
      const placed = placeSubnets(items.flatMap((i) => (i.subnet === null ? [] : [i.subnet])), doc.offices, doc.defaultOffice ?? central);
      const names = new Map(doc.offices.map((o) => [o.id, o.name]));
      const sums = sumBy(items, (i) => (i.subnet === null ? null : placed.get(i.subnet)?.officeId ?? null), (i) => i.bytes);
      rows = [...sums].map(([officeId, bytes]) => savingsRow(officeId, officeId === null ? null : names.get(officeId) ?? null, bytes));
    }
    // Most saved first; ties by key, the row of no subnet (or office) last.
    rows.sort((a, b) => b.savedBytes - a.savedBytes || Number(a.key === null) - Number(b.key === null) || String(a.key).localeCompare(String(b.key)));
    const total = sumBy(rows, () => null, (r) => r.bytes).get(null) ?? emptyBytesBySource();
    const { key: _key, name: _name, ...totals } = savingsRow(null, null, total);
    return { from: query.from, to: query.to, groupBy: query.groupBy, items: rows, totals, topologyVersion: topology?.version.version ?? null };
  }
}
