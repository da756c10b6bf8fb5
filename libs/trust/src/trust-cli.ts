#!/usr/bin/env node
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TRUST_FILES, writeTrustDir } from './trust-files';

/**
 * fleetcast-trust init <dir> [--resolver-dir <dir>] [--force]
 *   Makes the fleet's NATS trust chain (operator, system and fleet accounts, service credentials)
 *   and nats-server's operator-mode include file. Does nothing when <dir> already holds one, unless
 *   --force: a new chain invalidates every credential issued under the old one.
 */
async function main(argv: string[]): Promise<number> {
  const [command, dirArg, ...rest] = argv;
  if (command !== 'init' || !dirArg) {
    process.stderr.write('usage: fleetcast-trust init <dir> [--resolver-dir <dir>] [--force]\n');
    return 2;
  }
  const dir = resolve(dirArg);
  const at = rest.indexOf('--resolver-dir');
  const resolverDir = at >= 0 && rest[at + 1] ? resolve(rest[at + 1]!) : join(dir, 'resolver');
  const exists = await access(join(dir, TRUST_FILES.operatorJwt)).then(() => true, () => false);
  if (exists && !rest.includes('--force')) {
    process.stdout.write(`${dir} already holds a trust chain; kept as it is (--force makes a new one)\n`);
    return 0;
  }
  await writeTrustDir(dir, { resolverDir });
  process.stdout.write(`trust chain written to ${dir}; nats-server includes ${join(dir, TRUST_FILES.natsAuthConf)} (resolver in ${resolverDir})\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`fleetcast-trust: ${error.message}\n`);
    process.exit(1);
  },
);
