import { SigningKeyInfo } from '@fleetcast/contracts';
import { KeyEndorsement } from '@fleetcast/content';
import { SigningKeyRecord } from './signing-key.repository';

/** Pure functions over the stored signing keys: no I/O, unit-tested on their own. */

/**
 * How long an endorsement of a new key holds: a device that pins only the older key follows it to
 * the new one within this time. A year covers a device that sat switched off in a drawer through a
 * rotation; one that was off longer must be enrolled again (its old key may be long retired).
 */
export const ENDORSEMENT_VALIDITY_MS = 365 * 24 * 3600 * 1000;

/**
 * The endorsements that lead to `keyId`, oldest first: from the key it replaced back to the first
 * key, stopping at the first that has expired (a device pinned to a key before it could not follow
 * the chain anyway). Empty for the first key.
 */
export function endorsementChain(keys: readonly SigningKeyRecord[], keyId: string, now: Date): KeyEndorsement[] {
  const byId = new Map(keys.map((k) => [k.keyId, k]));
  const chain: KeyEndorsement[] = [];
  const seen = new Set<string>();
  for (let key = byId.get(keyId); key?.endorsement && !seen.has(key.keyId); key = byId.get(key.endorsement.endorsedBy)) {
    seen.add(key.keyId);
    const e = key.endorsement;
    if (e.expiresAt.getTime() <= now.getTime()) break;
    chain.push({
      keyId: key.keyId,
      publicKeyDer: new Uint8Array(key.publicKeyDer),
      endorsedBy: e.endorsedBy,
      notBefore: e.notBefore.toISOString(),
      expiresAt: e.expiresAt.toISOString(),
      signature: new Uint8Array(e.signature),
    });
  }
  return chain.reverse();
}

/** The keys a device may pin, as enrollment hands them out: the active key first, then the retiring ones, newest first. */
export function pinnableKeys(keys: readonly SigningKeyRecord[]): Array<{ keyId: string; publicKeyDer: string }> {
  const rank = (k: SigningKeyRecord) => (k.state === 'active' ? 0 : 1);
  return keys
    .filter((k) => k.state !== 'retired')
    .sort((a, b) => rank(a) - rank(b) || b.createdAt.getTime() - a.createdAt.getTime())
    .map((k) => ({ keyId: k.keyId, publicKeyDer: k.publicKeyDer.toString('base64') }));
}

export function keyInfo(k: SigningKeyRecord): SigningKeyInfo {
  return {
    keyId: k.keyId,
    publicKeyDer: k.publicKeyDer.toString('base64'),
    state: k.state,
    createdAt: k.createdAt.toISOString(),
    retiringAt: k.retiringAt?.toISOString() ?? null,
    retiredAt: k.retiredAt?.toISOString() ?? null,
    endorsedBy: k.endorsement?.endorsedBy ?? null,
  };
}
