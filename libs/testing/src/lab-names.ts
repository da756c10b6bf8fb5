import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { destroyLab } from '@fleetcast/netlab';

/**
 * Lab names are at most 8 characters; a pid in base 36 takes at most 5 (pid_max is 2^22 =
 * "2hwzk"), which leaves 3 for the tag.
 */
const MAX_TAG = 3;
const TAG = /^[a-z][a-z0-9]{0,2}$/;

function checkTag(tag: string): void {
  if (!TAG.test(tag)) throw new RangeError(`lab tag "${tag}" must be 1 to ${MAX_TAG} characters of a-z0-9, starting with a letter`);
}

/**
 * A lab name for this process: the tag and this process's pid in base 36. Two runs on one machine
 * never remove each other's labs, and a later run can tell the leftovers of a dead one
 * (`destroyStaleLabs`).
 */
export function labNameForThisProcess(tag: string): string {
  checkTag(tag);
  return `${tag}${process.pid.toString(36)}`;
}

/** A zombie has left every namespace; only a process that still runs counts as alive. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Destroys the labs named by `labNameForThisProcess(tag)` whose process is gone (a run killed
 * before its exit hooks could run). Such a lab keeps its host link, and with it its core subnet's
 * address on this machine, which would make the next run's `createLab` refuse the same ranges.
 * Returns the names it destroyed.
 */
export async function destroyStaleLabs(tag: string): Promise<string[]> {
  checkTag(tag);
  const pattern = new RegExp(`^(${tag}([0-9a-z]+))-`);
  const run = promisify(execFile);
  const [{ stdout: netns }, { stdout: links }] = await Promise.all([run('ip', ['-j', 'netns', 'list']), run('ip', ['-j', 'link', 'show'])]);
  const names = [
    ...(JSON.parse(netns.trim() || '[]') as Array<{ name: string }>).map((n) => n.name),
    ...(JSON.parse(links.trim() || '[]') as Array<{ ifname: string }>).map((l) => l.ifname),
  ];
  const stale = new Set<string>();
  for (const name of names) {
    const match = pattern.exec(name);
    if (match && Number.parseInt(match[2]!, 36) !== process.pid && !running(Number.parseInt(match[2]!, 36))) stale.add(match[1]!);
  }
  for (const name of stale) await destroyLab(name);
  return [...stale];
}
