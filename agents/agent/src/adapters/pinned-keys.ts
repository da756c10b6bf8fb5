import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { FleetcastError, signingKeySchema } from '@fleetcast/contracts';
import { AgentErrorCode } from '../core/agent-errors';
import { EMPTY_KEY_SET, keyRecordError, keyRecordOf, PinnedKeySet } from '../core/key-set';
import { readTextIfExists, writeFileAtomic } from './atomic-file';

/**
 * The control plane's signing keys this device trusts: `<stateDir>/control-plane-keys.json`
 * = `{ "keys": [ { "keyId", "publicKeyDer" } ], "retiredKeyIds": [ ... ] }`, written at enrollment,
 * seeded from the `--control-plane-key` option, grown by endorsements and shrunk by retirements that
 * verified assignments carry. Never fetched unauthenticated. `retiredKeyIds` is optional (enrollment
 * writes none): retired keys are remembered so that nothing brings them back.
 */
export const PINNED_KEYS_FILE = 'control-plane-keys.json';

/** Where agents before signed assignments kept the key they pinned on first use. */
const LEGACY_KEY_FILE = 'control-plane-key.der';

const pinnedKeysFileSchema = z.object({ keys: z.array(signingKeySchema), retiredKeyIds: z.array(z.string()).optional() });
export type PinnedKey = z.infer<typeof signingKeySchema>;

/** The key file exists but cannot be trusted as it is: never guessed around, the device trusts nothing until it is fixed. */
export class PinnedKeysError extends FleetcastError {
  constructor(message: string) {
    super(AgentErrorCode.StateUnreadable, message);
    this.name = 'PinnedKeysError';
  }
}

/** The pinned set; empty when the file does not exist. Throws PinnedKeysError when it is unreadable or holds a key that is not what it says. */
export async function loadPinnedKeys(stateDir: string): Promise<PinnedKeySet> {
  const text = await readTextIfExists(join(stateDir, PINNED_KEYS_FILE));
  if (text === null) return EMPTY_KEY_SET;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PinnedKeysError(`${PINNED_KEYS_FILE} is not JSON (${(error as Error).message}); enroll again or restore it`);
  }
  const parsed = pinnedKeysFileSchema.safeParse(json);
  if (!parsed.success) throw new PinnedKeysError(`${PINNED_KEYS_FILE} holds no key list; enroll again or restore it`);
  for (const key of parsed.data.keys) {
    const error = keyRecordError(key);
    if (error !== null) throw new PinnedKeysError(`${PINNED_KEYS_FILE}: ${error}; enroll again or restore it`);
  }
  return { keys: parsed.data.keys, retiredKeyIds: parsed.data.retiredKeyIds ?? [] };
}

/** Replaces the pinned set (atomically). Refuses a key that is not an Ed25519 key under its own ID. */
export async function savePinnedKeys(stateDir: string, keys: readonly PinnedKey[], retiredKeyIds: readonly string[] = []): Promise<void> {
  for (const key of keys) {
    const error = keyRecordError(key);
    if (error !== null) throw new PinnedKeysError(`not pinned: ${error}`);
  }
  const body = retiredKeyIds.length > 0 ? { keys, retiredKeyIds } : { keys };
  await writeFileAtomic(join(stateDir, PINNED_KEYS_FILE), JSON.stringify(body, null, 2) + '\n');
}

/**
 * Carries over the key an earlier agent version pinned (`control-plane-key.der`) when there is no
 * key file yet: the device has trusted that key for manifests all along, so an upgrade keeps
 * working without a new enrollment. Nothing is fetched. Returns the key's ID, or null when there
 * was nothing to carry over.
 */
export async function importLegacyPinnedKey(stateDir: string): Promise<string | null> {
  if ((await readTextIfExists(join(stateDir, PINNED_KEYS_FILE))) !== null) return null;
  const legacy = await readLegacyKey(join(stateDir, LEGACY_KEY_FILE));
  if (legacy === null) return null;
  const made = keyRecordOf(legacy.toString('base64'));
  if ('error' in made) throw new PinnedKeysError(`${LEGACY_KEY_FILE} is ${made.error}; enroll the device`);
  await savePinnedKeys(stateDir, [made.record]);
  return made.record.keyId;
}

async function readLegacyKey(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
