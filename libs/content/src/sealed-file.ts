import { open } from 'node:fs/promises';
import { MANIFEST_BLOCK_SIZE } from './manifest';
import { openBlock, openedSize, sealBlock, sealedBlockCount, SEALED_PLAIN_BLOCK_SIZE, ConfidentialBlockError } from './confidential';

/**
 * Seals or opens a whole file a block at a time (positional reads, one block in memory), for the
 * origin (sealing what was uploaded) and the agent (opening into its install directory). The block
 * crypto is in confidential.ts; this is only the walk over the file.
 */

/** Seals `src` into `dst` (created, must not exist); `onBlock` sees every sealed block in order (to hash it). Returns the sealed size. */
export async function sealFile(key: Uint8Array, packageId: string, src: string, dst: string, onBlock: (sealed: Buffer) => void): Promise<number> {
  const input = await open(src, 'r');
  try {
    const plainSize = (await input.stat()).size;
    const blockCount = sealedBlockCount(plainSize);
    const output = await open(dst, 'wx', 0o644);
    try {
      const buffer = Buffer.alloc(SEALED_PLAIN_BLOCK_SIZE);
      let written = 0;
      for (let blockIndex = 0; blockIndex < blockCount; blockIndex++) {
        const want = Math.min(SEALED_PLAIN_BLOCK_SIZE, plainSize - blockIndex * SEALED_PLAIN_BLOCK_SIZE);
        const { bytesRead } = await input.read(buffer, 0, want, blockIndex * SEALED_PLAIN_BLOCK_SIZE);
        if (bytesRead !== want) throw new Error(`${src} changed while it was sealed (read ${bytesRead} of ${want} bytes of block ${blockIndex})`);
        const sealed = sealBlock(key, { packageId, blockIndex, blockCount }, buffer.subarray(0, want));
        onBlock(sealed);
        await output.write(sealed, 0, sealed.length, written);
        written += sealed.length;
      }
      await output.sync();
      return written;
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

/**
 * Opens sealed content `src` into `dst` (created with mode 0600, must not exist): every block's tag
 * is checked before its plaintext is written; ConfidentialBlockError at the first that fails (the
 * caller removes `dst`). Returns the plaintext size.
 */
export async function openFile(key: Uint8Array, packageId: string, src: string, dst: string): Promise<number> {
  const input = await open(src, 'r');
  try {
    const size = (await input.stat()).size;
    const plainSize = openedSize(size);
    if (plainSize === null) throw new ConfidentialBlockError(`${size} bytes is not the size of sealed content`);
    const blockCount = Math.ceil(size / MANIFEST_BLOCK_SIZE);
    const output = await open(dst, 'wx', 0o600);
    try {
      const buffer = Buffer.alloc(MANIFEST_BLOCK_SIZE);
      let written = 0;
      for (let blockIndex = 0; blockIndex < blockCount; blockIndex++) {
        const want = Math.min(MANIFEST_BLOCK_SIZE, size - blockIndex * MANIFEST_BLOCK_SIZE);
        const { bytesRead } = await input.read(buffer, 0, want, blockIndex * MANIFEST_BLOCK_SIZE);
        if (bytesRead !== want) throw new Error(`${src} changed while it was opened (read ${bytesRead} of ${want} bytes of block ${blockIndex})`);
        const plain = openBlock(key, { packageId, blockIndex, blockCount }, buffer.subarray(0, want));
        await output.write(plain, 0, plain.length, written);
        written += plain.length;
      }
      return written;
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}
