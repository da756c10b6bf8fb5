import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { BlockHasher, MANIFEST_BLOCK_SIZE, sealBlock, sealedBlockCount, SEALED_PLAIN_BLOCK_SIZE } from '@fleetcast/content';
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
  /** Seal requests as they came (a key is checked only for its length here: the test opens the result with the key the device gets). */
  readonly seals: Array<{ contentId: string; packageId: string; removeSource: boolean; authorization: string | undefined }> = [];

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const seal = /^\/v1\/content\/([0-9a-f]{64})\/seal$/.exec(req.url ?? '');
      if (seal && req.method === 'POST') return void this.seal(seal[1]!, req, res);
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

  /** Whether content is stored (plaintext is removed once sealed). */
  has(contentId: string): boolean {
    return this.contents.has(contentId);
  }

  /** The stored bytes of content. */
  bytesOf(contentId: string): Buffer | undefined {
    return this.contents.get(contentId);
  }

  /** `POST /v1/content/<id>/seal` as the origin does it, with the same block crypto, in memory. */
  private seal(contentId: string, req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { packageId: string; key: string; removeSource: boolean };
      const plain = this.contents.get(contentId);
      if (!plain) return void res.writeHead(404).end();
      this.seals.push({ contentId, packageId: body.packageId, removeSource: body.removeSource, authorization: req.headers.authorization });
      const key = Buffer.from(body.key, 'base64');
      const blockCount = sealedBlockCount(plain.length);
      const blocks = Array.from({ length: blockCount }, (_, i) =>
        sealBlock(key, { packageId: body.packageId, blockIndex: i, blockCount }, plain.subarray(i * SEALED_PLAIN_BLOCK_SIZE, (i + 1) * SEALED_PLAIN_BLOCK_SIZE)),
      );
      if (body.removeSource) {
        this.contents.delete(contentId);
        this.descriptors.delete(contentId);
      }
      const descriptor = this.add(Buffer.concat(blocks));
      const { blockHashBytes: _, ...wire } = descriptor;
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ ...wire, blockSize: MANIFEST_BLOCK_SIZE }));
    });
  }

  /** Serves a descriptor as given, whatever it says. */
  describe(descriptor: ContentDescriptor): void {
    this.descriptors.set(descriptor.contentId, descriptor);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
