import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { advance, etaSecondsOf, percentOf, progressLine, rateOf, RATE_WINDOW_MS, resumeAt, startTransfer } from './transfer-progress';
import { TransferDisplay } from './progress-display';

const MiB = 1024 * 1024;

describe('transfer progress', () => {
  test('a resumed transfer starts at its offset and measures its rate from there only', () => {
    let p = startTransfer(10 * MiB, 0);
    p = resumeAt(p, 6 * MiB, 5000);
    assert.equal(percentOf(p), 60);
    assert.equal(rateOf(p), undefined, 'the bytes sent before are not counted as this run\'s speed');
    p = advance(p, MiB, 6000);
    assert.equal(rateOf(p), MiB);
    assert.equal(etaSecondsOf(p), 3);
    assert.equal(resumeAt(p, 20 * MiB, 7000).done, 10 * MiB, 'never past the total');
  });

  test('rate and ETA from samples, time given', () => {
    let p = startTransfer(10 * MiB, 0);
    assert.equal(rateOf(p), undefined);
    assert.equal(etaSecondsOf(p), undefined);
    p = advance(p, MiB, 1000);
    p = advance(p, MiB, 2000);
    assert.equal(rateOf(p), MiB);
    assert.equal(etaSecondsOf(p), 8);
    assert.equal(percentOf(p), 20);
    assert.equal(progressLine('upload', p), `upload 2.0 MiB / 10.0 MiB (20%) 1.0 MiB/s ETA 8s [${2 * MiB} bytes]`);
  });

  test('the rate follows the last few seconds, not the average since the start', () => {
    let p = startTransfer(100 * MiB, 0);
    for (let t = 1; t <= 10; t++) p = advance(p, MiB, t * 1000); // 1 MiB/s for 10 s
    for (let t = 11; t <= 20; t++) p = advance(p, 4 * MiB, t * 1000); // then 4 MiB/s
    assert.equal(rateOf(p), 4 * MiB);
    assert.ok(p.samples[p.samples.length - 1].atMs - p.samples[0].atMs <= RATE_WINDOW_MS);
  });

  test('done is 100 % and ETA 0; an empty file is done at once', () => {
    let p = startTransfer(MiB, 0);
    p = advance(p, MiB, 500);
    assert.deepEqual([percentOf(p), etaSecondsOf(p)], [100, 0]);
    assert.equal(percentOf(startTransfer(0, 0)), 100);
  });

  test('off a terminal: a plain line every 2 s and always the last one', () => {
    const lines: string[] = [];
    let now = 0;
    const display = new TransferDisplay('upload', 4 * MiB, { write: (s: string) => lines.push(s) }, () => now);
    for (let i = 0; i < 8; i++) {
      now += 500;
      display.add(MiB / 2);
    }
    display.finish();
    assert.equal(lines.length, 3, lines.join(''));
    assert.match(lines[lines.length - 1], /upload 4\.0 MiB \/ 4\.0 MiB \(100%\) .* ETA 0s \[4194304 bytes\]/);
  });
});
