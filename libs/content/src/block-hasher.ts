import { createHash, Hash } from 'node:crypto';
import { MANIFEST_BLOCK_SIZE, Manifest } from './manifest';

/**
 * Hashes a byte stream as it passes: the SHA-256 of the whole (the content ID) and of every block.
 * Holds at most one block's hash state, never the bytes, so memory stays flat for any size.
 */
export class BlockHasher {
  private readonly whole = createHash('sha256');
  private block: Hash = createHash('sha256');
  private inBlock = 0;
  private total = 0;
  private readonly hashes: Buffer[] = [];

  constructor(readonly blockSize: number = MANIFEST_BLOCK_SIZE) {}

  update(chunk: Uint8Array): void {
    this.whole.update(chunk);
    this.total += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(this.blockSize - this.inBlock, chunk.length - offset);
      this.block.update(chunk.subarray(offset, offset + take));
      this.inBlock += take;
      offset += take;
      if (this.inBlock === this.blockSize) this.closeBlock();
    }
  }

  get bytes(): number {
    return this.total;
  }

  /** Ends the stream: returns the manifest (unsigned). Call once. */
  finish(): Manifest {
    if (this.inBlock > 0) this.closeBlock();
    return {
      contentId: this.whole.digest('hex'),
      size: this.total,
      blockSize: this.blockSize,
      blockHashes: new Uint8Array(Buffer.concat(this.hashes)),
    };
  }

  private closeBlock(): void {
    this.hashes.push(this.block.digest());
    this.block = createHash('sha256');
    this.inBlock = 0;
  }
}
