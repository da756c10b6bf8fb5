import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { UsageError } from '../errors';

/** The file's size, or a usage error naming it when it is missing or not a regular file. */
export async function fileSizeOf(path: string): Promise<number> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new UsageError(`${path} is not a file`);
    return info.size;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** The file's size and modification time (what tells a resumable upload that the file is unchanged). */
export async function fileInfoOf(path: string): Promise<{ size: number; mtimeMs: number }> {
  const size = await fileSizeOf(path);
  return { size, mtimeMs: (await stat(path)).mtimeMs };
}

/** The file's bytes from `start` as they are read, each chunk reported first (flat memory, whatever the size). */
export async function* fileChunks(path: string, onChunk: (bytes: number) => void, start = 0): AsyncGenerator<Uint8Array> {
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024, start })) {
    onChunk((chunk as Buffer).length);
    yield chunk as Buffer;
  }
}

/** SHA-256 of the file, hex, read once before the upload so that the origin can check what it receives. */
export async function sha256OfFile(path: string, onChunk: (bytes: number) => void): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fileChunks(path, onChunk)) hash.update(chunk);
  return hash.digest('hex');
}
