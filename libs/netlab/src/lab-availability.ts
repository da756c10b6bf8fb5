import { runCommand } from './command-runner';
import { LabError } from './lab-error';

export type LabAvailability = { ok: true } | { ok: false; reason: string };

/** Programs the lab runs; each comes from a standard package (iproute2, nftables, procps). */
const REQUIRED_PROGRAMS: Array<{ cmd: string; args: string[]; pkg: string }> = [
  { cmd: 'ip', args: ['-V'], pkg: 'iproute2' },
  { cmd: 'tc', args: ['-V'], pkg: 'iproute2' },
  { cmd: 'nft', args: ['--version'], pkg: 'nftables' },
  { cmd: 'sysctl', args: ['--version'], pkg: 'procps' },
];

function why(error: unknown): string {
  return error instanceof LabError ? (error.stderr || error.message) : String(error);
}

/**
 * Whether this machine can build a lab: root, the programs, and a real trial in a throwaway
 * namespace (create it, shape its loopback with tbf, list its nftables tables, delete it), since
 * a container may have `ip` but forbid namespaces, or a kernel may lack tbf or nf_tables.
 */
export async function labAvailable(): Promise<LabAvailability> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { ok: false, reason: 'creating network namespaces needs root (run the lab as root, or in CI with root)' };
  }
  for (const program of REQUIRED_PROGRAMS) {
    try {
      await runCommand(program.cmd, program.args);
    } catch (error) {
      return { ok: false, reason: `\`${program.cmd}\` is missing or broken (package ${program.pkg}): ${why(error)}` };
    }
  }
  // The pid keeps probes of concurrent processes apart; the name matches no lab's prefix.
  const probe = `netlab-probe-${process.pid}`;
  try {
    await runCommand('ip', ['netns', 'add', probe]);
  } catch (error) {
    return { ok: false, reason: `\`ip netns add\` failed, so network namespaces are not available here: ${why(error)}` };
  }
  try {
    await runCommand('ip', ['-n', probe, 'link', 'set', 'lo', 'up']);
    try {
      await runCommand('tc', ['-n', probe, 'qdisc', 'replace', 'dev', 'lo', 'root', 'tbf', 'rate', '1mbit', 'burst', '32kb', 'latency', '50ms']);
    } catch (error) {
      return { ok: false, reason: `tc cannot attach a tbf shaper (kernel without sch_tbf?): ${why(error)}` };
    }
    try {
      await runCommand('ip', ['netns', 'exec', probe, 'nft', 'list', 'tables']);
    } catch (error) {
      return { ok: false, reason: `nftables does not work in a namespace (kernel without nf_tables?): ${why(error)}` };
    }
    return { ok: true };
  } finally {
    await runCommand('ip', ['netns', 'del', probe]).catch(() => undefined);
  }
}
