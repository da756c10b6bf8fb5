import { join } from 'node:path';
import { UsageError } from '../errors';

/** What `fleetcast login` stores: the gateway's URL and an API token. */
export interface StoredConfig {
  server: string;
  token: string;
}

/** Where a command sends its requests, and with which token. */
export interface Connection extends StoredConfig {
  /** Where each value came from, for error messages (never the token itself). */
  source: { server: 'env' | 'config'; token: 'env' | 'config' };
}

export type CliEnv = Partial<Record<'FLEETCAST_SERVER' | 'FLEETCAST_TOKEN' | 'XDG_CONFIG_HOME' | 'HOME', string>>;

/**
 * The config file: `--config` when given, else `$XDG_CONFIG_HOME/fleetcast/config.json`, else
 * `~/.config/fleetcast/config.json` (the XDG base directory default).
 */
export function configPathOf(option: string | undefined, env: CliEnv, homeDir: string): string {
  if (option) return option;
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME || homeDir, '.config');
  return join(base, 'fleetcast', 'config.json');
}

/** A gateway URL as it is stored: http or https, without a trailing slash. */
export function normalizeServer(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`server "${url}" is not a URL: give the gateway's address, e.g. https://fleetcast.example.com`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`server "${url}" must be an http or https URL`);
  if (parsed.username || parsed.password) throw new UsageError('the server URL must not hold credentials: give the token with --token');
  return parsed.toString().replace(/\/+$/, '');
}

/** Parses the config file's text; a damaged file is named, with what to do. */
export function parseStoredConfig(text: string, path: string): Partial<StoredConfig> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`${path} is not JSON: run fleetcast login again`);
  }
  if (value === null || typeof value !== 'object') throw new UsageError(`${path} is not a JSON object: run fleetcast login again`);
  const { server, token } = value as Record<string, unknown>;
  return { ...(typeof server === 'string' ? { server } : {}), ...(typeof token === 'string' ? { token } : {}) };
}

/** The connection a command uses: `FLEETCAST_SERVER` and `FLEETCAST_TOKEN` override the file, each on its own. */
export function resolveConnection(stored: Partial<StoredConfig> | undefined, env: CliEnv, path: string): Connection {
  const server = env.FLEETCAST_SERVER || stored?.server;
  const token = env.FLEETCAST_TOKEN || stored?.token;
  if (!server || !token) {
    const missing = [server ? undefined : 'server', token ? undefined : 'token'].filter(Boolean).join(' and ');
    throw new UsageError(`no ${missing} configured (${path}): run fleetcast login --server URL --token TOKEN, or set FLEETCAST_SERVER and FLEETCAST_TOKEN`);
  }
  return {
    server: normalizeServer(server),
    token,
    source: { server: env.FLEETCAST_SERVER ? 'env' : 'config', token: env.FLEETCAST_TOKEN ? 'env' : 'config' },
  };
}
