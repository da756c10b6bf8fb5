import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Marks a temporary file of an atomic write; `removeStaleTempFiles` recognises leftovers by it. */
const TEMP_MARKER = '.tmp-';

/**
 * Replaces a file so that a reader (or the agent after a crash or power loss) sees either the old
 * content or the new one, never a mix: write a temporary file beside it, flush it to disk, rename
 * it over the target (atomic within a directory), then flush the directory so the rename survives.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temp = join(dirname(path), `${basename(path)}${TEMP_MARKER}${process.pid}-${randomBytes(4).toString('hex')}`);
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDirectory(dirname(path));
}

/**
 * Flushes a directory's entries (a rename or a new file) to disk. Windows cannot open a directory
 * for this and its NTFS journal orders metadata anyway, so a failure here is not an error.
 */
export async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Best effort, see above.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Removes temporary files that a crash left behind in `dir`; returns how many. */
export async function removeStaleTempFiles(dir: string): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir)) {
    if (!name.includes(TEMP_MARKER)) continue;
    await rm(join(dir, name), { force: true });
    removed += 1;
  }
  return removed;
}

/** A file's text, or null when it does not exist (any other read error is thrown). */
export async function readTextIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
