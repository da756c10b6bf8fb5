import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseStoredConfig, StoredConfig } from './cli-config';

/** The stored config, or undefined when there is no file yet. */
export async function readConfigFile(path: string): Promise<Partial<StoredConfig> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return parseStoredConfig(text, path);
}

/**
 * Writes the config readable by its owner only (0600, in a 0700 directory): it holds an API
 * token. Written to a temporary file first and renamed, so a crash never leaves half a file, and
 * the mode is set before the token is in it.
 */
export async function writeConfigFile(path: string, config: StoredConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, '', { mode: 0o600 });
  // An existing temporary file keeps its old mode through writeFile's `mode`: set it explicitly.
  await chmod(temporary, 0o600);
  await writeFile(temporary, `${JSON.stringify(config, null, 2)}\n`);
  await rename(temporary, path);
}
