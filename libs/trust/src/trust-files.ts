import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFleetTrust, FleetTrust, issueAdminCreds, issueBranchLeafCreds, issueServiceCreds, publicKeyOf } from './fleet-trust';
import { SERVICE_ROLES } from './permissions';

/**
 * The trust directory `fleetcast-trust init` writes, and what reads it:
 *
 *   operator.jwt, accounts/SYS.jwt, accounts/FLEET.jwt   public: the server's configuration
 *   nats-auth.conf                                       include for nats-server (operator mode)
 *   secrets/*.seed                                       operator, operator signing, accounts' keys
 *   creds/<service>.creds                                one user per service, with its permissions
 *   creds/system.creds, creds/admin.creds                system-account user; unrestricted fleet user
 *
 * Secrets are written 0600 in 0700 directories. In production only the licensing service mounts
 * secrets/ (the two signing keys) and creds/system.creds; each other service mounts its own creds file.
 */
export const TRUST_FILES = {
  operatorJwt: 'operator.jwt',
  systemAccountJwt: 'accounts/SYS.jwt',
  fleetAccountJwt: 'accounts/FLEET.jwt',
  natsAuthConf: 'nats-auth.conf',
  operatorSeed: 'secrets/operator.seed',
  operatorSigningSeed: 'secrets/operator-signing.seed',
  systemAccountSeed: 'secrets/system-account.seed',
  fleetAccountSeed: 'secrets/fleet-account.seed',
  fleetSigningSeed: 'secrets/fleet-account-signing.seed',
  systemCreds: 'creds/system.creds',
  adminCreds: 'creds/admin.creds',
  serviceCreds: (role: string) => `creds/${role}.creds`,
  /** A branch leaf node's links to the core (fleet and system account), for any branch. */
  branchLeafCreds: 'creds/branch-leaf.creds',
  branchLeafSystemCreds: 'creds/branch-leaf-system.creds',
} as const;

/**
 * nats-server's operator-mode settings for a trust chain. The resolver is `full`: the server keeps
 * account JWTs in `resolverDir` and takes updates pushed on the system account
 * (`$SYS.REQ.CLAIMS.UPDATE`), so a revocation reaches it in milliseconds without a restart or a
 * reload; the memory resolver would need a config reload for every retired device. Preloading both
 * accounts makes a new server usable at once; a newer JWT already in the directory wins over the
 * preload, so a restart keeps the revocations pushed since.
 */
export function natsAuthConfig(trust: Pick<FleetTrust, 'operator' | 'systemAccount' | 'fleetAccount'>, resolverDir: string): string {
  const sys = publicKeyOf(trust.systemAccount.seed);
  const fleet = publicKeyOf(trust.fleetAccount.seed);
  return [
    '# Operator mode: every client presents a user JWT signed for the fleet account (see docs/security.md).',
    `operator: ${JSON.stringify(trust.operator.jwt)}`,
    `system_account: ${sys}`,
    'resolver: {',
    '  type: full',
    `  dir: ${JSON.stringify(resolverDir)}`,
    '  # Accounts are never deleted through the resolver: a retired device is a revocation, not a deletion.',
    '  allow_delete: false',
    '  # Servers of a cluster compare their account JWTs this often and take the newest.',
    '  interval: "2m"',
    '}',
    'resolver_preload: {',
    `  ${sys}: ${JSON.stringify(trust.systemAccount.jwt)}`,
    `  ${fleet}: ${JSON.stringify(trust.fleetAccount.jwt)}`,
    '}',
    '',
  ].join('\n');
}

/**
 * A branch leaf node's settings (docs/scaling.md): the same operator-mode trust as the core (its
 * devices connect with their own JWTs, checked here), no JetStream of its own (its devices' stream
 * traffic goes to the core's), and two links to the core's leaf port: the fleet account's, which
 * carries the devices' traffic, and the system account's, over which revocations arrive.
 */
export function natsLeafConfig(
  trust: Pick<FleetTrust, 'operator' | 'systemAccount' | 'fleetAccount'>,
  options: { resolverDir: string; coreLeafUrls: string[]; fleetCredsFile: string; systemCredsFile: string },
): string {
  const urls = JSON.stringify(options.coreLeafUrls);
  return [
    natsAuthConfig(trust, options.resolverDir),
    'leafnodes {',
    '  # Seconds between attempts while the WAN is down; the devices stay connected to this server meanwhile.',
    '  reconnect: 2',
    '  remotes: [',
    `    { urls: ${urls}, credentials: ${JSON.stringify(options.fleetCredsFile)}, account: ${publicKeyOf(trust.fleetAccount.seed)} }`,
    `    { urls: ${urls}, credentials: ${JSON.stringify(options.systemCredsFile)}, account: ${publicKeyOf(trust.systemAccount.seed)} }`,
    '  ]',
    '}',
    '',
  ].join('\n');
}

async function writeSecret(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600);
}

/**
 * Writes a new trust chain, its server settings and every service's credentials to `dir`.
 * `resolverDir` is where nats-server keeps account JWTs (inside its own data volume).
 */
export async function writeTrustDir(dir: string, options: { resolverDir: string; trust?: FleetTrust }): Promise<FleetTrust> {
  const trust = options.trust ?? (await createFleetTrust());
  for (const sub of ['accounts', 'secrets', 'creds']) await mkdir(join(dir, sub), { recursive: true, mode: 0o700 });
  const f = TRUST_FILES;
  await writeFile(join(dir, f.operatorJwt), trust.operator.jwt);
  await writeFile(join(dir, f.systemAccountJwt), trust.systemAccount.jwt);
  await writeFile(join(dir, f.fleetAccountJwt), trust.fleetAccount.jwt);
  await writeFile(join(dir, f.natsAuthConf), natsAuthConfig(trust, options.resolverDir));
  await writeSecret(join(dir, f.operatorSeed), trust.operator.seed);
  await writeSecret(join(dir, f.operatorSigningSeed), trust.operator.signingSeed);
  await writeSecret(join(dir, f.systemAccountSeed), trust.systemAccount.seed);
  await writeSecret(join(dir, f.fleetAccountSeed), trust.fleetAccount.seed);
  await writeSecret(join(dir, f.fleetSigningSeed), trust.fleetAccount.signingSeed);
  await writeSecret(join(dir, f.systemCreds), trust.systemUserCreds);
  await writeSecret(join(dir, f.adminCreds), await issueAdminCreds(trust));
  for (const role of SERVICE_ROLES) await writeSecret(join(dir, f.serviceCreds(role)), await issueServiceCreds(trust, role));
  const leaf = await issueBranchLeafCreds(trust, 'branch');
  await writeSecret(join(dir, f.branchLeafCreds), leaf.fleet);
  await writeSecret(join(dir, f.branchLeafSystemCreds), leaf.system);
  return trust;
}

/** Reads a trust chain back (all of it: for tools that hold the secrets). */
export async function readTrustDir(dir: string): Promise<FleetTrust> {
  const read = (path: string) => readFile(join(dir, path), 'utf8').then((t) => t.trim());
  const f = TRUST_FILES;
  return {
    operator: { seed: await read(f.operatorSeed), signingSeed: await read(f.operatorSigningSeed), jwt: await read(f.operatorJwt) },
    systemAccount: { seed: await read(f.systemAccountSeed), jwt: await read(f.systemAccountJwt) },
    fleetAccount: { seed: await read(f.fleetAccountSeed), signingSeed: await read(f.fleetSigningSeed), jwt: await read(f.fleetAccountJwt) },
    systemUserCreds: await read(f.systemCreds),
  };
}
