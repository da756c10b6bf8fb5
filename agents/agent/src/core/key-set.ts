import type { KeyObject } from 'node:crypto';
import { KeyEndorsement, keyIdOf, publicKeyFromDer, verifyEndorsement } from '@fleetcast/content';

/**
 * The control-plane keys a device trusts, as plain data (what `<stateDir>/control-plane-keys.json`
 * holds). Pure functions over it: seeding from configuration, following endorsements from a pinned
 * key to a new one, retiring keys. Nothing here fetches a key: a key is trusted because the device
 * was given it (enrollment, `--control-plane-key`) or because a key it trusts vouched for it.
 */
export interface PinnedKeyRecord {
  keyId: string;
  /** SPKI DER, base64. */
  publicKeyDer: string;
}

export interface PinnedKeySet {
  keys: readonly PinnedKeyRecord[];
  /** Keys the control plane retired: never trusted again, whatever seeds or endorses them. */
  retiredKeyIds: readonly string[];
}

export const EMPTY_KEY_SET: PinnedKeySet = { keys: [], retiredKeyIds: [] };

/**
 * Clock difference tolerated between a device and the control plane when checking validity windows.
 * NTP keeps clocks within a second, but a laptop waking from sleep or a VM restored from a snapshot
 * can be minutes off; five minutes is the tolerance Kerberos settled on for the same problem.
 */
export const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Keys parsed from their base64 SPKI DER, with their ID: a peer server checks a pass on every
 * request, and parsing the pinned key each time (createPublicKey, then its ID's SHA-256) cost more
 * than the signature check itself. A parse depends on the bytes alone and a KeyObject cannot change,
 * so the memo answers exactly as parsing again would. Bounded: a device pins a handful of keys, and
 * the oldest parse is dropped beyond MAX_PARSED_KEYS.
 */
const PARSED_KEYS = new Map<string, { key: KeyObject; keyId: string } | { error: string }>();
const MAX_PARSED_KEYS = 64;

function parsedKey(publicKeyDer: string): { key: KeyObject; keyId: string } | { error: string } {
  let parsed = PARSED_KEYS.get(publicKeyDer);
  if (parsed === undefined) {
    try {
      const key = publicKeyFromDer(Buffer.from(publicKeyDer, 'base64'));
      // The ID of a key that is not Ed25519 is never asked for: keyRecordError stops at its type.
      parsed = { key, keyId: key.asymmetricKeyType === 'ed25519' ? keyIdOf(key) : '' };
    } catch (error) {
      parsed = { error: (error as Error).message };
    }
    if (PARSED_KEYS.size >= MAX_PARSED_KEYS) PARSED_KEYS.delete(PARSED_KEYS.keys().next().value!);
    PARSED_KEYS.set(publicKeyDer, parsed);
  }
  return parsed;
}

/** Why a record cannot be a pinned key (not an Ed25519 SPKI key, or its ID is not that key's); null when it can. */
export function keyRecordError(record: PinnedKeyRecord): string | null {
  const parsed = parsedKey(record.publicKeyDer);
  if ('error' in parsed) return `key ${record.keyId} is not a public key (${parsed.error})`;
  if (parsed.key.asymmetricKeyType !== 'ed25519') return `key ${record.keyId} is ${parsed.key.asymmetricKeyType}, not Ed25519`;
  if (parsed.keyId !== record.keyId) return `key ${record.keyId} is in fact key ${parsed.keyId}`;
  return null;
}

/** The record of a base64 SPKI DER key (its ID computed), or why it is not a usable key. */
export function keyRecordOf(publicKeyDer: string): { record: PinnedKeyRecord } | { error: string } {
  let key: KeyObject;
  try {
    key = publicKeyFromDer(Buffer.from(publicKeyDer, 'base64'));
  } catch (error) {
    return { error: `not a base64 SPKI DER public key (${(error as Error).message})` };
  }
  if (key.asymmetricKeyType !== 'ed25519') return { error: `a ${key.asymmetricKeyType} key, not Ed25519` };
  return { record: { keyId: keyIdOf(key), publicKeyDer } };
}

/** The public key pinned under `keyId`, if any (a record that is not a key counts as none). */
export function pinnedKey(set: PinnedKeySet, keyId: string): KeyObject | undefined {
  const record = set.keys.find((k) => k.keyId === keyId);
  if (record === undefined || keyRecordError(record) !== null) return undefined;
  return (parsedKey(record.publicKeyDer) as { key: KeyObject }).key;
}

/**
 * Adds a configured key (`--control-plane-key`) unless it is pinned already or was retired: the
 * option seeds the set, it cannot bring back a key the control plane retired.
 */
export function seedKey(set: PinnedKeySet, record: PinnedKeyRecord): { set: PinnedKeySet; added: boolean; refused?: string } {
  if (set.keys.some((k) => k.keyId === record.keyId)) return { set, added: false };
  if (set.retiredKeyIds.includes(record.keyId)) return { set, added: false, refused: `key ${record.keyId} was retired by the control plane` };
  return { set: { ...set, keys: [...set.keys, record] }, added: true };
}

/**
 * Walks endorsements (oldest first) and pins each key that a pinned, unretired key vouches for
 * within the endorsement's window. An endorsement that does not hold is skipped with the reason;
 * the keys it would have led to stay unknown.
 */
export function followEndorsements(set: PinnedKeySet, chain: readonly KeyEndorsement[], nowMs: number): { set: PinnedKeySet; learned: string[]; problems: string[] } {
  let keys = [...set.keys];
  const learned: string[] = [];
  const problems: string[] = [];
  for (const e of chain) {
    if (keys.some((k) => k.keyId === e.keyId)) continue;
    const what = `endorsement of key ${e.keyId} by ${e.endorsedBy}`;
    if (set.retiredKeyIds.includes(e.keyId)) {
      problems.push(`${what}: key ${e.keyId} is retired`);
      continue;
    }
    const signer = pinnedKey({ keys, retiredKeyIds: set.retiredKeyIds }, e.endorsedBy);
    if (signer === undefined) {
      problems.push(`${what}: ${e.endorsedBy} is not pinned`);
      continue;
    }
    const notBefore = Date.parse(e.notBefore);
    const expiresAt = Date.parse(e.expiresAt);
    if (!(nowMs + CLOCK_SKEW_MS >= notBefore && nowMs - CLOCK_SKEW_MS < expiresAt)) {
      problems.push(`${what}: valid ${e.notBefore} to ${e.expiresAt}, not now`);
      continue;
    }
    if (!verifyEndorsement(e, signer)) {
      problems.push(`${what}: the signature does not verify`);
      continue;
    }
    keys = [...keys, { keyId: e.keyId, publicKeyDer: Buffer.from(e.publicKeyDer).toString('base64') }];
    learned.push(e.keyId);
  }
  return { set: { keys, retiredKeyIds: set.retiredKeyIds }, learned, problems };
}

/**
 * Stops trusting keys the control plane retired (as a verified assignment says). The key that signed
 * that assignment is kept whatever the list says: a device never retires the key it just verified with.
 */
export function retireKeys(set: PinnedKeySet, keyIds: readonly string[], keep: string): { set: PinnedKeySet; retired: string[] } {
  const retired = keyIds.filter((id) => id !== keep && !set.retiredKeyIds.includes(id));
  if (retired.length === 0) return { set, retired };
  return { set: { keys: set.keys.filter((k) => !retired.includes(k.keyId)), retiredKeyIds: [...set.retiredKeyIds, ...retired] }, retired };
}
