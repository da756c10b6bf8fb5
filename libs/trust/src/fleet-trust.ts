import { createAccount, createOperator, createUser, fromPublic, fromSeed, KeyPair } from 'nkeys.js';
import { Algorithms, decode, encodeAccount, encodeOperator, encodeUser, fmtCreds } from 'nats-jwt';
import type { Account, ClaimsData } from 'nats-jwt/lib/types';
import { useNativeEd25519 } from './native-ed25519';
import { branchLeafPermissions, branchLeafSystemPermissions, devicePermissions, servicePermissions, ServiceRole, SubjectPermissions } from './permissions';

// Every signature of the trust chain (JWTs, keys) with Node's native Ed25519: see native-ed25519.ts.
useNativeEd25519();

/**
 * The fleet's NATS trust chain (NATS decentralized auth): an operator, the system account the
 * server uses for its own traffic, and the fleet account in which every service and device is a
 * user. Everything here is keys and signed JWTs; no secret ever travels to a device, which makes
 * its own key and sends only the public half.
 *
 * Who holds what (docs/security.md): the operator's identity key signs the operator JWT once and
 * can be kept offline; the operator's signing key re-signs the fleet account (to publish
 * revocations); the fleet account's signing key issues user JWTs. The licensing service holds the
 * two signing keys and a system-account user; each other service holds only its own credentials.
 */
export const FLEET_ACCOUNT_NAME = 'FLEET';
export const SYSTEM_ACCOUNT_NAME = 'SYS';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Seeds (secret) and JWTs (public) of the trust chain, as text. */
export interface FleetTrust {
  operator: { seed: string; signingSeed: string; jwt: string };
  systemAccount: { seed: string; jwt: string };
  fleetAccount: { seed: string; signingSeed: string; jwt: string };
  /** A user of the system account, for pushing account updates to the servers' resolver. */
  systemUserCreds: string;
}

export function seedOf(kp: KeyPair): string {
  return dec.decode(kp.getSeed());
}

export function keyPairFromSeed(seed: string): KeyPair {
  return fromSeed(enc.encode(seed.trim()));
}

/** The public key of a seed ('O...', 'A...', 'U...'). */
export function publicKeyOf(seed: string): string {
  return keyPairFromSeed(seed).getPublicKey();
}

/**
 * An account JWT's limits replace the server's defaults as a whole: what is not given is 0 (no
 * connections at all). -1 is unlimited; the server's own caps (nats.conf) and each stream's limits
 * (libs/contracts/src/streams.ts) bound the rest.
 */
const ACCOUNT_LIMITS = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
/** JetStream is on for an account only when its JWT grants some. */
const FLEET_LIMITS = { ...ACCOUNT_LIMITS, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };

/** Makes a new trust chain: what `fleetcast-trust init` writes to disk. */
export async function createFleetTrust(): Promise<FleetTrust> {
  const operator = createOperator();
  const operatorSigning = createOperator();
  const system = createAccount();
  const fleet = createAccount();
  const fleetSigning = createAccount();
  const opts = { algorithm: Algorithms.v2 };
  const operatorJwt = await encodeOperator(
    'fleetcast',
    operator,
    { system_account: system.getPublicKey(), signing_keys: [operatorSigning.getPublicKey()] },
    opts,
  );
  const systemJwt = await encodeAccount(SYSTEM_ACCOUNT_NAME, system, { limits: ACCOUNT_LIMITS }, { ...opts, signer: operatorSigning });
  const fleetJwt = await encodeFleetAccount(fleet.getPublicKey(), fleetSigning.getPublicKey(), operatorSigning, {});
  const systemUser = createUser();
  const systemUserJwt = await encodeUser('system', systemUser, system, {}, opts);
  return {
    operator: { seed: seedOf(operator), signingSeed: seedOf(operatorSigning), jwt: operatorJwt },
    systemAccount: { seed: seedOf(system), jwt: systemJwt },
    fleetAccount: { seed: seedOf(fleet), signingSeed: seedOf(fleetSigning), jwt: fleetJwt },
    systemUserCreds: dec.decode(fmtCreds(systemUserJwt, systemUser)),
  };
}

/**
 * The fleet account's JWT, signed by an operator signing key. Revocations name user public keys
 * with the time before which their JWTs no longer count: the server drops their connections as
 * soon as it learns the new JWT, and refuses them from then on.
 */
export async function encodeFleetAccount(
  accountPublicKey: string,
  accountSigningPublicKey: string,
  operatorSigner: KeyPair,
  revocations: Record<string, number>,
): Promise<string> {
  const account: Partial<Account> = {
    limits: FLEET_LIMITS,
    signing_keys: [accountSigningPublicKey],
    ...(Object.keys(revocations).length > 0 ? { revocations } : {}),
  };
  return encodeAccount(FLEET_ACCOUNT_NAME, fromPublic(accountPublicKey), account, { algorithm: Algorithms.v2, signer: operatorSigner });
}

/** Claims of a JWT, without checking its signature (the server checks; this reads what it says). */
export function decodeClaims<T = unknown>(jwt: string): ClaimsData<T> {
  return decode<T>(jwt);
}

/** Only the account's public key is needed to issue users: a holder of the signing key passes it as the account. */
export interface UserIssuer {
  /** The fleet account's public key ('A...'). */
  accountPublicKey: string;
  /** The fleet account's signing key seed ('SA...'). */
  signingSeed: string;
}

/**
 * A device's user JWT, for the public key the device made itself: it may act only on its own
 * subjects (devicePermissions). Without the device's secret seed the JWT is useless to anyone else.
 */
export async function issueDeviceUserJwt(issuer: UserIssuer, deviceId: string, devicePublicKey: string): Promise<string> {
  if (!/^U[A-Z2-7]{55}$/.test(devicePublicKey)) throw new Error('a device key must be a NATS user public key (U followed by 55 base32 characters)');
  return issueUser(issuer, `device ${deviceId}`, devicePublicKey, devicePermissions(deviceId), ['fleetcast:device', `device:${deviceId.toLowerCase()}`]);
}

/** A user JWT of the fleet account, issued with the account's signing key. */
async function issueUser(issuer: UserIssuer, name: string, userPublicKey: string, permissions: SubjectPermissions, tags: string[]): Promise<string> {
  return encodeUser(
    name,
    fromPublic(userPublicKey),
    keyPairFromSeed(issuer.signingSeed),
    {
      issuer_account: issuer.accountPublicKey,
      pub: { allow: permissions.pub.allow, deny: permissions.pub.deny ?? [] },
      sub: { allow: permissions.sub.allow, deny: permissions.sub.deny ?? [] },
      tags,
    },
    { algorithm: Algorithms.v2 },
  );
}

/** The issuer of a trust chain: its fleet account and that account's signing key. */
export function userIssuerOf(trust: Pick<FleetTrust, 'fleetAccount'>): UserIssuer {
  return { accountPublicKey: publicKeyOf(trust.fleetAccount.seed), signingSeed: trust.fleetAccount.signingSeed };
}

/** Credentials (a creds file's text: JWT and seed) for a service user with that service's permissions. */
export async function issueServiceCreds(trust: FleetTrust, role: ServiceRole): Promise<string> {
  const user = createUser();
  const jwt = await issueUser(userIssuerOf(trust), `service ${role}`, user.getPublicKey(), servicePermissions(role), ['fleetcast:service', `service:${role}`]);
  return dec.decode(fmtCreds(jwt, user));
}

/**
 * Credentials of a user with no restrictions in the fleet account: for test harnesses and
 * operators' tools that read any stream (never given to a service or a device).
 */
export async function issueAdminCreds(trust: FleetTrust, name = 'admin'): Promise<string> {
  const user = createUser();
  const jwt = await issueUser(userIssuerOf(trust), name, user.getPublicKey(), { pub: { allow: ['>'] }, sub: { allow: ['>'] } }, ['fleetcast:admin']);
  return dec.decode(fmtCreds(jwt, user));
}

/**
 * Credentials of a branch leaf node's two links to the core (docs/scaling.md): one in the fleet
 * account that may carry what any device may (`branchLeafPermissions`), and one in the system
 * account that only learns account updates, so that a device retired at the core is cut off at its
 * branch too. A stolen branch server gives no more than its devices already had.
 */
export async function issueBranchLeafCreds(trust: Pick<FleetTrust, 'fleetAccount' | 'systemAccount'>, branch: string): Promise<{ fleet: string; system: string }> {
  const fleetUser = createUser();
  const fleetJwt = await issueUser(userIssuerOf(trust), `branch leaf ${branch}`, fleetUser.getPublicKey(), branchLeafPermissions(), ['fleetcast:branch-leaf', `branch:${branch.toLowerCase()}`]);
  const systemUser = createUser();
  const system = branchLeafSystemPermissions();
  const systemJwt = await encodeUser(
    `branch leaf ${branch} (system)`,
    systemUser,
    keyPairFromSeed(trust.systemAccount.seed),
    { pub: { allow: system.pub.allow, deny: [] }, sub: { allow: system.sub.allow, deny: [] }, tags: ['fleetcast:branch-leaf', `branch:${branch.toLowerCase()}`] },
    { algorithm: Algorithms.v2 },
  );
  return { fleet: dec.decode(fmtCreds(fleetJwt, fleetUser)), system: dec.decode(fmtCreds(systemJwt, systemUser)) };
}

/** A creds file's text for a user JWT and the seed that goes with it (a device writes its own). */
export function formatCreds(jwt: string, seed: string): string {
  return dec.decode(fmtCreds(jwt, keyPairFromSeed(seed)));
}

/** A fresh user key pair for a device: the seed stays on the device. */
export function createDeviceKey(): { seed: string; publicKey: string } {
  const kp = createUser();
  return { seed: seedOf(kp), publicKey: kp.getPublicKey() };
}
