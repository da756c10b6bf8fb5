import { readFile } from 'node:fs/promises';

/**
 * Linux interface names: at most 15 characters (IFNAMSIZ 16 with its NUL), never a slash; anything
 * else is not read as a path.
 */
const INTERFACE_NAME = /^[^/\s]{1,15}$/;
/** Linux keeps the MTU as an unsigned int; loopback's is 65536, above any IP datagram. */
const MAX_MTU = 0xffffffff;

/**
 * The MTU of a network interface, read where Linux keeps it (`/sys/class/net/<name>/mtu`, the
 * namespace's own when the agent runs in one). Null where the OS keeps it elsewhere (macOS,
 * Windows) or it cannot be read: the caller then keeps the Ethernet default. `root` is for tests.
 */
export async function readInterfaceMtu(name: string, root = '/sys/class/net'): Promise<number | null> {
  if (!INTERFACE_NAME.test(name) || name === '.' || name === '..') return null;
  try {
    const text = (await readFile(`${root}/${name}/mtu`, 'utf8')).trim();
    const mtu = Number(text);
    return /^\d+$/.test(text) && mtu > 0 && mtu <= MAX_MTU ? mtu : null;
  } catch {
    return null;
  }
}
