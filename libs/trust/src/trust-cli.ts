#!/usr/bin/env node
import { access, chmod, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { issueBranchLeafCreds } from './fleet-trust';
import { natsLeafConfig, readTrustDir, TRUST_FILES, writeTrustDir } from './trust-files';

const USAGE = [
  'usage: fleetcast-trust init <dir> [--resolver-dir <dir>] [--force]',
  '       fleetcast-trust leaf <trust-dir> --branch <name> --core <nats-leaf-url>[,<url>...] --out <dir> [--resolver-dir <dir>]',
  '',
].join('\n');

/**
 * fleetcast-trust init <dir> [--resolver-dir <dir>] [--force]
 *   Makes the fleet's NATS trust chain (operator, system and fleet accounts, service credentials)
 *   and nats-server's operator-mode include file. Does nothing when <dir> already holds one, unless
 *   --force: a new chain invalidates every credential issued under the old one.
 * fleetcast-trust leaf <trust-dir> --branch <name> --core <urls> --out <dir>
 *   Writes a branch leaf node's nats-server configuration and its two credentials (docs/scaling.md)
 *   to <dir>, for the branch's server: copy the directory there and run `nats-server -c leaf.conf`.
 */
async function main(argv: string[]): Promise<number> {
  const [command, dirArg, ...rest] = argv;
  if (command === 'init' && dirArg) return init(resolve(dirArg), rest);
  if (command === 'leaf' && dirArg) return leaf(resolve(dirArg), rest);
  process.stderr.write(USAGE);
  return 2;
}

async function init(dir: string, rest: string[]): Promise<number> {
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

async function leaf(trustDir: string, rest: string[]): Promise<number> {
  const { values } = parseArgs({
    args: rest,
    options: { branch: { type: 'string' }, core: { type: 'string' }, out: { type: 'string' }, 'resolver-dir': { type: 'string' }, listen: { type: 'string' } },
    strict: true,
  });
  const branch = values.branch ?? '';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(branch)) throw new Error('--branch must be a name of letters, digits, - and _ (up to 64)');
  const core = (values.core ?? '').split(',').map((u) => u.trim()).filter((u) => u.length > 0);
  if (core.length === 0 || !core.every((u) => /^(nats-leaf|tls):\/\/[^\s/]+$/.test(u))) throw new Error('--core must list the core\'s leaf-node URLs, e.g. nats-leaf://core.example.com:7422');
  if (!values.out) throw new Error('--out must name the directory to write the branch\'s files to');
  const out = resolve(values.out);
  const trust = await readTrustDir(trustDir);
  const creds = await issueBranchLeafCreds(trust, branch);
  await mkdir(out, { recursive: true, mode: 0o700 });
  const secret = async (name: string, text: string) => {
    await writeFile(join(out, name), text, { mode: 0o600 });
    await chmod(join(out, name), 0o600);
  };
  await secret('branch-leaf.creds', creds.fleet);
  await secret('branch-leaf-system.creds', creds.system);
  const config = [
    `# Branch leaf node "${branch}" (docs/scaling.md): the branch's devices connect here; one link to the core carries them.`,
    `server_name: leaf-${branch}`,
    `listen: ${values.listen ?? '0.0.0.0:4222'}`,
    natsLeafConfig(trust, {
      resolverDir: values['resolver-dir'] ? resolve(values['resolver-dir']) : join(out, 'resolver'),
      coreLeafUrls: core,
      fleetCredsFile: join(out, 'branch-leaf.creds'),
      systemCredsFile: join(out, 'branch-leaf-system.creds'),
    }),
  ].join('\n');
  await writeFile(join(out, 'leaf.conf'), config);
  process.stdout.write(`branch leaf "${branch}" written to ${out}: run nats-server -c ${join(out, 'leaf.conf')}; agents there take --nats nats://<this server>:4222 --nats-js-domain core\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`fleetcast-trust: ${error.message}\n`);
    process.exit(1);
  },
);
