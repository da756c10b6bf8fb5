import { readFile } from 'node:fs/promises';
import type { LabStack } from './lab-stack';
import { waitFor } from './wait-for';

/** An office type, as the topology document spells it (the harness talks to the public API as a user does). */
export type LabOfficeType = 'default' | 'vpn' | 'wifi';

/**
 * The topology of a lab: the core network is the central office (`hq`, it holds the origin at the
 * host's address), each branch an office below it with its WAN link's rate (and the types given).
 */
export function labTopology(stack: LabStack, types: Record<string, LabOfficeType> = {}) {
  return {
    schemaVersion: 1,
    origin: { addresses: [stack.host.address] },
    offices: [
      { id: 'hq', name: 'Central office', subnets: [stack.lab.plan.core.subnet] },
      ...stack.lab.plan.branches.map((b) => ({
        id: b.name,
        name: b.name,
        type: types[b.name] ?? 'default',
        parent: 'hq',
        subnets: [b.subnet],
        wan: { bandwidthKbps: Math.round(b.rateMbit * 1000) },
      })),
    ],
  };
}

/**
 * Uploads the lab's topology and resolves once every running agent has read its branch's office
 * from that version (its log's "office policy" line): a task created after it finds every device in
 * its office. Returns the version.
 */
export async function placeLabDevices(stack: LabStack, types: Record<string, LabOfficeType> = {}, timeoutMs = 60_000): Promise<number> {
  const { version } = await stack.api.ok<{ version: number }>('POST', '/v1/topology', labTopology(stack, types));
  await waitFor(
    async () => {
      for (const agent of stack.agents) {
        const lines = (await readFile(agent.logFile, 'utf8')).split('\n').filter((l) => l.includes('"office policy"'));
        const last = lines.length === 0 ? null : (JSON.parse(lines[lines.length - 1]!) as { office?: { id: string }; topologyVersion?: number });
        if (last?.office?.id !== agent.branch || last.topologyVersion !== version) return false;
      }
      return true;
    },
    { timeoutMs, intervalMs: 500, description: `every agent placed by topology version ${version}` },
  );
  return version;
}
