import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { get } from 'node:http';
import { GeneratedStream, json, send, startOrigin } from './origin-harness';

/** The brief's bound: a 2 GB package must move in flat memory; 300 MB through both ways must not grow RSS by 100 MB. */
const SIZE = 300 * 1024 * 1024;
const RSS_GROWTH_LIMIT = 100 * 1024 * 1024;

function download(url: string): Promise<{ sha256: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
      });
      res.on('end', () => resolve({ sha256: hash.digest('hex'), bytes }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

test('a 300 MiB stream uploads and downloads in flat memory', async () => {
  const origin = await startOrigin();
  try {
    // Warm up, so that code loaded and buffers allocated on first use do not count as growth.
    const warm = await send(`${origin.baseUrl}/v1/content`, 'PUT', new GeneratedStream(4 * 1024 * 1024));
    await download(`${origin.baseUrl}/v1/content/${String(json(warm).contentId)}`);

    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 20);
    try {
      const stream = new GeneratedStream(SIZE);
      const uploaded = await send(`${origin.baseUrl}/v1/content`, 'PUT', stream, { 'x-content-size': String(SIZE) });
      assert.equal(uploaded.status, 201, uploaded.body.toString());
      const contentId = String(json(uploaded).contentId);
      assert.equal(contentId, stream.sha256());

      const downloaded = await download(`${origin.baseUrl}/v1/content/${contentId}`);
      assert.equal(downloaded.bytes, SIZE);
      assert.equal(downloaded.sha256, contentId);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage.rss());
    const growth = peak - baseline;
    assert.ok(growth < RSS_GROWTH_LIMIT, `RSS grew by ${(growth / 1024 / 1024).toFixed(1)} MiB moving ${SIZE / 1024 / 1024} MiB each way`);
  } finally {
    await origin.close();
  }
});
