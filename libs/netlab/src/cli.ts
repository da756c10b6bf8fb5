#!/usr/bin/env node
// Builds, removes or shows a lab by hand:  node dist/cli.js up|down|status --spec <file.json> [--attach-host] [--json]
import { readFileSync } from 'node:fs';
import { createLab, openLab, type Lab } from './create-lab';
import { labAvailable } from './lab-availability';
import { destroyLab, listLabResources } from './lab-cleanup';
import { LabError } from './lab-error';
import type { LabSpec } from './lab-plan';

const USAGE = 'usage: node cli.js up|down|status --spec <file.json> [--attach-host] [--json]';
/** Exit codes a script can branch on: 2 the machine cannot build a lab, 3 the lab is not up. */
const EXIT_USAGE = 64;
const EXIT_UNAVAILABLE = 2;
const EXIT_NOT_UP = 3;

interface Args {
  command: 'up' | 'down' | 'status';
  specPath: string;
  json: boolean;
  /** `up` only: join this machine to the core network too (`Lab.attachHost`). */
  attachHost: boolean;
}

function parseArgs(argv: string[]): Args | string {
  const [command, ...rest] = argv;
  if (command !== 'up' && command !== 'down' && command !== 'status') return `unknown command "${command ?? ''}"`;
  let specPath: string | undefined;
  let json = false;
  let attachHost = false;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--spec') specPath = rest[++i];
    else if (rest[i] === '--json') json = true;
    else if (rest[i] === '--attach-host' && command === 'up') attachHost = true;
    else return `unknown option "${rest[i]}"`;
  }
  if (!specPath) return '--spec <file.json> is required';
  return { command, specPath, json, attachHost };
}

function describe(lab: Lab): string {
  const lines = [`lab ${lab.name}`, `  core      ${lab.core.ns.padEnd(22)} ${lab.core.address}`];
  if (lab.host) lines.push(`  host      ${'(this machine)'.padEnd(22)} ${lab.host.address} on ${lab.host.iface}, routes to ${lab.host.routes.map((r) => r.subnet).join(', ')}`);
  for (const branch of lab.branches) {
    const plan = lab.plan.branches.find((b) => b.name === branch.name)!;
    const loss = plan.lossPercent > 0 ? `, LAN loss ${plan.lossPercent} % (${plan.lossProto})` : '';
    lines.push(`  branch ${branch.name}: ${branch.subnet}, WAN ${plan.rateMbit} Mbit/s each way${loss}`);
    lines.push(`    router  ${branch.routerNs.padEnd(22)} ${branch.routerAddress} (WAN ${plan.routerWanAddress})`);
    for (const device of branch.devices) lines.push(`    device  ${device.ns.padEnd(22)} ${device.address} on ${device.iface}`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    process.stderr.write(`${args}\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  const spec = JSON.parse(readFileSync(args.specPath, 'utf8')) as LabSpec;
  switch (args.command) {
    case 'up': {
      const availability = await labAvailable();
      if (!availability.ok) {
        process.stderr.write(`cannot build a lab on this machine: ${availability.reason}\n`);
        return EXIT_UNAVAILABLE;
      }
      const lab = await createLab(spec, { destroyOnExit: false });
      if (args.attachHost) {
        try {
          await lab.attachHost();
        } catch (error) {
          // Half a lab is worth nothing by hand: remove it and say why.
          await lab.destroy();
          throw error;
        }
      }
      process.stdout.write(args.json ? `${JSON.stringify({ core: lab.core, host: lab.host ?? null, branches: lab.branches })}\n` : `${describe(lab)}\nup; run a program inside with: ip netns exec <namespace> <program>\n`);
      return 0;
    }
    case 'down': {
      await destroyLab(spec.name);
      process.stdout.write(`lab ${spec.name}: removed (nothing named ${spec.name}-* is left)\n`);
      return 0;
    }
    case 'status': {
      const found = await listLabResources(spec.name);
      if (found.namespaces.length === 0 && found.links.length === 0 && found.nftTables.length === 0) {
        process.stdout.write(args.json ? `${JSON.stringify({ up: false })}\n` : `lab ${spec.name}: down\n`);
        return EXIT_NOT_UP;
      }
      let lab: Lab;
      try {
        lab = await openLab(spec);
      } catch (error) {
        if (!(error instanceof LabError && error.code === 'LAB.NOT_FOUND')) throw error;
        process.stdout.write(`lab ${spec.name}: partly there (${found.namespaces.length} namespace(s)); remove it with "down"\n`);
        return EXIT_NOT_UP;
      }
      const counters = await Promise.all(lab.branches.map((b) => lab.wanCounters(b.name)));
      if (args.json) {
        process.stdout.write(`${JSON.stringify({ up: true, core: lab.core, host: lab.host ?? null, branches: lab.branches, wan: counters })}\n`);
      } else {
        const wan = counters.map(
          (c) => `  WAN ${c.branch}: to branch ${c.toBranch.bytes} B / ${c.toBranch.packets} pkts (${c.toBranch.shaperDrops} shaper drops), from branch ${c.fromBranch.bytes} B / ${c.fromBranch.packets} pkts (${c.fromBranch.shaperDrops} shaper drops)`,
        );
        process.stdout.write(`${describe(lab)}\n${wan.join('\n')}\n`);
      }
      return 0;
    }
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof LabError ? `${error.code}: ${error.message}` : String(error instanceof Error ? error.stack : error)}\n`);
    process.exitCode = 1;
  },
);
