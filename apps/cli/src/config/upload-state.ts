import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * What the CLI remembers of uploads not yet finished, so that running `packages upload` again
 * (after a crash, a kill, a reboot) resumes instead of sending everything again. One entry per
 * server and file; a file that changed (size or modification time) is not resumed.
 * Kept next to the config file, mode 0600 like it (upload IDs let whoever holds a token write).
 */
export interface PendingUpload {
  server: string;
  /** Absolute path of the file. */
  file: string;
  size: number;
  mtimeMs: number;
  sha256: string;
  packageId: string;
  uploadId: string;
  updatedAt: string;
}

export const UPLOAD_STATE_FILE = 'uploads.json';

/** Entries older than this are dropped when the file is written: the server has expired them long since. */
export const PENDING_UPLOAD_MAX_AGE_MS = 30 * 24 * 3600 * 1000;

export function uploadStatePathOf(configPath: string): string {
  return join(dirname(configPath), UPLOAD_STATE_FILE);
}

/** Parses the state file's text; anything unreadable counts as no state (the upload then starts over). */
export function parseUploadState(text: string): PendingUpload[] {
  try {
    const value = JSON.parse(text) as { uploads?: unknown };
    if (!Array.isArray(value.uploads)) return [];
    return value.uploads.filter(
      (u): u is PendingUpload =>
        u !== null &&
        typeof u === 'object' &&
        ['server', 'file', 'sha256', 'packageId', 'uploadId', 'updatedAt'].every((k) => typeof (u as Record<string, unknown>)[k] === 'string') &&
        ['size', 'mtimeMs'].every((k) => typeof (u as Record<string, unknown>)[k] === 'number'),
    );
  } catch {
    return [];
  }
}

/** The pending upload of this file to this server, if it is still the same file. */
export function findPending(entries: readonly PendingUpload[], key: { server: string; file: string; size: number; mtimeMs: number }): PendingUpload | undefined {
  return entries.find((e) => e.server === key.server && e.file === key.file && e.size === key.size && e.mtimeMs === key.mtimeMs);
}

/** The entries with `entry` put in place of any for the same server and file (and old ones dropped). */
export function withPending(entries: readonly PendingUpload[], entry: PendingUpload, nowMs: number): PendingUpload[] {
  return [...withoutPending(entries, entry, nowMs), entry];
}

export function withoutPending(entries: readonly PendingUpload[], key: { server: string; file: string }, nowMs: number): PendingUpload[] {
  return entries.filter((e) => !(e.server === key.server && e.file === key.file) && nowMs - Date.parse(e.updatedAt) < PENDING_UPLOAD_MAX_AGE_MS);
}

export async function readUploadState(path: string): Promise<PendingUpload[]> {
  try {
    return parseUploadState(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Written owner-only (0600, in a 0700 directory), through a temporary file and a rename. */
export async function writeUploadState(path: string, entries: readonly PendingUpload[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, '', { mode: 0o600 });
  await chmod(temporary, 0o600);
  await writeFile(temporary, `${JSON.stringify({ uploads: entries }, null, 2)}\n`);
  await rename(temporary, path);
}
