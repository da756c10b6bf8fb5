import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readInterfaceMtu } from '../src/adapters/interface-mtu';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A directory laid out as /sys/class/net: one folder per interface, each with its `mtu` file. */
async function sysClassNet(entries: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'fleetcast-mtu-'));
  dirs.push(root);
  for (const [name, mtu] of Object.entries(entries)) {
    await mkdir(join(root, name));
    await writeFile(join(root, name, 'mtu'), mtu);
  }
  return root;
}

test('readInterfaceMtu: the number in <root>/<name>/mtu', async () => {
  const root = await sysClassNet({ eth0: '1500\n', lanx: '1280\n', jumbo: '9000' });
  assert.equal(await readInterfaceMtu('eth0', root), 1500);
  assert.equal(await readInterfaceMtu('lanx', root), 1280);
  assert.equal(await readInterfaceMtu('jumbo', root), 9000);
});

test('readInterfaceMtu: null for a missing interface, an unreadable or garbled file, and a name that is a path', async () => {
  const root = await sysClassNet({ bad: 'fast\n', empty: '', huge: '5000000000', negative: '-5', frac: '1280.5' });
  await writeFile(join(root, 'mtu'), '1500');
  for (const name of ['gone', 'bad', 'empty', 'huge', 'negative', 'frac', '..', '.', '../x', 'a/b', '', 'a-name-too-long-for-linux']) {
    assert.equal(await readInterfaceMtu(name, root), null, JSON.stringify(name));
  }
});

test('readInterfaceMtu: the loopback interface of this machine, where Linux keeps it', async (t) => {
  if (!existsSync('/sys/class/net/lo/mtu')) return t.skip('no /sys/class/net here (not Linux)');
  assert.equal(await readInterfaceMtu('lo'), Number((await readFile('/sys/class/net/lo/mtu', 'utf8')).trim()));
});
