import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { BlockHasher } from '@fleetcast/content';
import type { ContentDescriptor } from '@fleetcast/contracts';

/**
 * The origin as the tasks service and agents use it, over real HTTP: `GET /v1/content/<id>` with
 * Range (what an agent downloads) and `GET /v1/content/<id>/blocks` (the block hashes the tasks
 * service signs manifests over). Content is added as bytes, hashed here as the origin would; a
 * descriptor can also be given as is, to show what the tasks service does with an inconsistent one.
 */
export class OriginStub {
  private readonly contents = new Map<string, Buffer>();
  private readonly descriptors = new Map<string, ContentDescriptor>();
  private server?: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const match = /^\/v1\/content\/([0-9a-f]{64})(\/blocks)?$/.exec(req.url ?? '');
      const id = match?.[1];
      if (id && match?.[2]) {
        const descriptor = this.descriptors.get(id);
        if (!descriptor) return void res.writeHead(404).end();
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(descriptor));
      }
      const data = id ? this.contents.get(id) : undefined;
      if (!data) return void res.writeHead(404).end();
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      const headers = { etag: `"${id}"`, 'accept-ranges': 'bytes' };
      if (!range) return void res.writeHead(200, { ...headers, 'content-length': data.length }).end(data);
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), data.length - 1) : data.length - 1;
      res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${data.length}`, 'content-length': end - start + 1 }).end(data.subarray(start, end + 1));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Stores content as the origin does: its bytes and the block hashes computed from them. */
  add(bytes: Buffer): ContentDescriptor & { blockHashBytes: Uint8Array } {
    const hasher = new BlockHasher();
    hasher.update(bytes);
    const m = hasher.finish();
    const descriptor = { contentId: m.contentId, size: m.size, blockSize: m.blockSize, blockHashes: Buffer.from(m.blockHashes).toString('base64') };
    this.contents.set(m.contentId, bytes);
    this.descriptors.set(m.contentId, descriptor);
    return { ...descriptor, blockHashBytes: m.blockHashes };
  }

  /** Serves a descriptor as given, whatever it says. */
  describe(descriptor: ContentDescriptor): void {
    this.descriptors.set(descriptor.contentId, descriptor);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
