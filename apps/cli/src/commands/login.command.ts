import { normalizeServer } from '../config/cli-config';
import { writeConfigFile } from '../config/config-file';
import { UsageError } from '../errors';
import { CliContext } from './cli-context';

export interface LoginOptions {
  server?: string;
  token?: string;
  /** The token read from stdin (it then stays out of the shell's history). */
  stdinToken?: string;
}

/**
 * Checks the token with a read request (any scope may read), then stores server and token in the
 * config file, mode 0600. A refused token is not stored.
 */
export async function login(ctx: CliContext, options: LoginOptions): Promise<number> {
  if (!options.server) throw new UsageError('login needs --server URL (the gateway, e.g. https://fleetcast.example.com)');
  const token = (options.token ?? options.stdinToken ?? '').trim();
  if (!token) throw new UsageError('login needs --token TOKEN, or --token-stdin with the token on standard input');
  const server = normalizeServer(options.server);
  const packages = await ctx.apiFor(server, token).get<{ total: number }>('/v1/packages', { limit: 1 });
  const path = ctx.configPath;
  await writeConfigFile(path, { server, token });
  ctx.result({ server, config: path }, () => `logged in to ${server} (${packages.total} package${packages.total === 1 ? '' : 's'}); saved to ${path} (mode 0600)`);
  return 0;
}
