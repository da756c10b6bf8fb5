import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { formatLabReport, generatedContent, type LabReport } from './lab-report';

const MIB = 1024 * 1024;

test('generated content: the stream has the announced size and hash, the same on every read; another seed differs', async () => {
  const size = 2 * MIB + 123;
  const content = generatedContent(size, 'seed-a');
  for (let read = 0; read < 2; read++) {
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of content.stream()) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    assert.equal(bytes, size);
    assert.equal(hash.digest('hex'), content.sha256);
  }
  assert.notEqual(generatedContent(size, 'seed-b').sha256, content.sha256);
  assert.equal(generatedContent(size, 'seed-a').sha256, content.sha256);
});

test('report text: a row per device and per subnet, ratios to the package size, failures with their reason', () => {
  const report: LabReport = {
    taskId: 't1',
    action: 'cache-only',
    packageBytes: 8 * MIB,
    contentId: 'ab'.repeat(32),
    devices: [
      { deviceId: 'east-1', branch: 'east', subnet: '10.212.1.0/24', state: 'succeeded', reason: null, seconds: 4.25, bytes: { origin: 6 * MIB, parent: 2 * MIB, multicast: 0, peer: 0 }, originServed: 6 * MIB },
      { deviceId: 'east-2', branch: 'east', subnet: '10.212.1.0/24', state: 'failed', reason: 'DOWNLOAD.EXHAUSTED: gave up', seconds: 9, bytes: { origin: MIB, parent: 0, multicast: 0, peer: 0 }, originServed: 1.5 * MIB },
    ],
    subnets: [
      {
        branch: 'east',
        subnet: '10.212.1.0/24',
        devices: 2,
        done: 1,
        originBytes: 9 * MIB,
        originRatio: 9 / 8,
        wanBytes: 9.4 * MIB,
        wanRatio: 9.4 / 8,
        wanOverOrigin: 9.4 / 9,
        wanFromBranchBytes: 0.25 * MIB,
        shaperDrops: 3,
        lan: null,
      },
    ],
    totals: { devices: 2, done: 1, failed: 1, originBytes: 9 * MIB, originBytesElsewhere: 0, wanBytes: 9.4 * MIB, seconds: 9 },
  };
  const text = formatLabReport(report);
  assert.match(text, /^device +subnet +state +time +origin +parent +multicast +peer +origin served$/m);
  assert.match(text, /^east-1 +10\.212\.1\.0\/24 +succeeded +4\.3 s +6\.00 MiB +2\.00 MiB +0\.00 MiB +0\.00 MiB +6\.00 MiB$/m);
  assert.match(text, /^east-2 +10\.212\.1\.0\/24 +failed +9\.0 s +1\.00 MiB +0\.00 MiB +0\.00 MiB +0\.00 MiB +1\.50 MiB$/m);
  assert.match(text, /^ {2}east-2: DOWNLOAD\.EXHAUSTED: gave up$/m);
  assert.match(text, /^10\.212\.1\.0\/24 +east +1\/2 +9\.00 MiB +1\.13x +9\.40 MiB +1\.18x +1\.044 +0\.25 MiB +3$/m);
  assert.doesNotMatch(text, /representative/, 'no LAN table without a LAN session');
  assert.match(text, /^total: 1\/2 devices done, 1 failed; origin served 9\.00 MiB \(1\.13x the package\); WAN to branches 9\.40 MiB \(1\.18x\); last device done 9\.0 s/m);
});

test('report text: per subnet the LAN session (representative, start, LAN bytes, repairs) next to the origin and WAN counts', () => {
  const size = 20 * MIB;
  const subnet = (name: string, cidr: string, lan: LabReport['subnets'][number]['lan']): LabReport['subnets'][number] => ({
    branch: name,
    subnet: cidr,
    devices: 5,
    done: 5,
    originBytes: size,
    originRatio: 1,
    wanBytes: 21 * MIB,
    wanRatio: 1.05,
    wanOverOrigin: 1.05,
    wanFromBranchBytes: 0.5 * MIB,
    shaperDrops: 0,
    lan,
  });
  const report: LabReport = {
    taskId: 't2',
    action: 'cache-only',
    packageBytes: size,
    contentId: 'cd'.repeat(32),
    devices: [],
    subnets: [
      subnet('east', '10.214.1.0/24', { representative: 'east-3', sessionStartSeconds: 3.04, lanBytesSent: 22 * MIB, lanRatio: 1.1, repairs: 41, invalidPackets: 0 }),
      subnet('west', '10.214.2.0/24', { representative: null, sessionStartSeconds: null, lanBytesSent: 0, lanRatio: 0, repairs: 0, invalidPackets: 2 }),
    ],
    totals: { devices: 10, done: 10, failed: 0, originBytes: 2 * size, originBytesElsewhere: 0, wanBytes: 42 * MIB, seconds: 12 },
  };
  const text = formatLabReport(report);
  assert.match(text, /^subnet +representative +session start +LAN sent +x pkg +repairs +invalid packets +origin served +x pkg +WAN to branch +x pkg$/m);
  assert.match(text, /^10\.214\.1\.0\/24 +east-3 +\+3\.0 s +22\.00 MiB +1\.10x +41 +0 +20\.00 MiB +1\.00x +21\.00 MiB +1\.05x$/m);
  assert.match(text, /^10\.214\.2\.0\/24 +- +- +0\.00 MiB +0\.00x +0 +2 +20\.00 MiB +1\.00x +21\.00 MiB +1\.05x$/m);
});
