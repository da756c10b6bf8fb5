import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Package, Task } from '@fleetcast/contracts';
import { formatBytes, formatDuration, formatPackage, formatPackageList, formatTask, keyValues, pageFooter, shellQuote, table } from './format';

const pkg: Package = {
  id: 'pkg-1',
  name: 'tool',
  version: '1.0',
  platform: 'linux',
  installCommand: '/bin/sh',
  installArgs: ['-c', 'sh "$FLEETCAST_PACKAGE_PATH"'],
  successExitCodes: [0],
  timeoutSeconds: 3600,
  status: 'ready',
  contentId: 'ab'.repeat(32),
  size: 3 * 1024 * 1024,
  createdAt: '2025-01-01T00:00:00.000Z',
};

describe('format', () => {
  test('bytes in binary units', () => {
    assert.deepEqual([0, 1023, 1024, 1536, 5 * 1024 ** 2, 3 * 1024 ** 3].map(formatBytes), ['0 B', '1023 B', '1.0 KiB', '1.5 KiB', '5.0 MiB', '3.0 GiB']);
  });

  test('durations', () => {
    assert.deepEqual([undefined, Infinity, 0, 44.6, 185, 7440].map(formatDuration), ['--', '--', '0s', '45s', '3m05s', '2h04m']);
  });

  test('a table pads its columns, the last one not', () => {
    const rows = [{ a: 'x', b: 1 }, { a: 'longer', b: null }];
    assert.equal(table(rows, [{ header: 'a', value: (r) => r.a }, { header: 'b', value: (r) => r.b }]), 'A       B\nx       1\nlonger  -');
    assert.equal(table([], [{ header: 'a', value: () => '' }]), '(none)');
  });

  test('key-value blocks align their keys', () => {
    assert.equal(keyValues([['id', 'x'], ['status', null]]), 'id:     x\nstatus: -');
  });

  test('a page footer only when the page is not the whole list', () => {
    assert.equal(pageFooter(3, 3), undefined);
    assert.equal(pageFooter(100, 250, 0), '100 of 250 shown (from 0); use --offset and --limit for more');
  });

  test('a package, with its install command quoted as a shell reads it', () => {
    const text = formatPackage(pkg);
    assert.match(text, /^install: +\/bin\/sh -c 'sh "\$FLEETCAST_PACKAGE_PATH"'$/m);
    assert.match(text, /^size: +3\.0 MiB \(3145728 bytes\)$/m);
    assert.match(formatPackageList({ items: [pkg], total: 1 }), /^pkg-1 +tool +1\.0 +linux +ready +3\.0 MiB/m);
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
  });

  test('a task lists its offices with WAN bytes and bytes saved once some office is known', () => {
    const MiB = 1024 * 1024;
    const bytes = { origin: 0, parent: 0, multicast: 0, peer: 0 };
    const task: Task = {
      id: 't-1', name: 'n', packageId: 'p-1', action: 'install', status: 'active', profileId: null, startAt: 'x', createdAt: 'x',
      summary: {
        taskId: 't-1', total: 3, counts: { pending: 0, queued: 0, downloading: 0, cached: 0, installing: 0, succeeded: 3, failed: 0, cancelled: 0 }, bytes, subnets: [],
        offices: [
          { officeId: 'east', name: 'East branch', devices: 2, bytes, wanBytes: 4 * MiB, savedBytes: 6 * MiB },
          { officeId: null, name: null, devices: 1, bytes, wanBytes: MiB, savedBytes: 0 },
        ],
      },
    };
    const text = formatTask(task, 'states', 'bytes');
    assert.match(text, /^offices \(WAN: from the origin and the parent office; saved: from peers and multicast\):$/m);
    assert.match(text, /^  east \(East branch\): 2 devices, WAN 4\.0 MiB, saved 6\.0 MiB$/m);
    assert.match(text, /^  \(no office\): 1 device, WAN 1\.0 MiB, saved 0 B$/m);
    // No office known (no topology), or an older gateway: no such block.
    assert.doesNotMatch(formatTask({ ...task, summary: { ...task.summary, offices: [task.summary.offices![1]!] } }, 's', 'b'), /offices/);
    assert.doesNotMatch(formatTask({ ...task, summary: { ...task.summary, offices: undefined } }, 's', 'b'), /offices/);
  });
});
