/**
 * The environment an install command runs with: a short allowlist, never the agent's whole
 * environment. The agent's environment may hold what only the agent should see (credentials passed
 * to it by a service manager, a proxy URL with a password, tokens of other software on the host);
 * an install command is a package author's program and gets what an installer needs to run:
 *
 * - everywhere: `PATH`, and `FLEETCAST_PACKAGE_PATH` (the verified package file, set by the agent,
 *   never copied from its environment);
 * - POSIX (Linux, macOS): `HOME`, `USER`, `LOGNAME`, `TMPDIR`, `TZ`, `LANG` and `LC_*` (so that an
 *   installer finds its home and temporary directory, and its output decodes in the agent's locale);
 * - Windows: what Windows programs and MSI expect of any process: `SystemRoot`, `SystemDrive`,
 *   `windir`, `ComSpec`, `PATHEXT`, `TEMP`, `TMP`, the program and profile folders
 *   (`ProgramFiles`, `ProgramFiles(x86)`, `ProgramW6432`, `CommonProgramFiles*`, `ProgramData`,
 *   `ALLUSERSPROFILE`, `PUBLIC`, `USERPROFILE`, `APPDATA`, `LOCALAPPDATA`, `HOMEDRIVE`, `HOMEPATH`),
 *   and the machine's identity (`USERNAME`, `USERDOMAIN`, `COMPUTERNAME`, `OS`,
 *   `PROCESSOR_ARCHITECTURE`, `NUMBER_OF_PROCESSORS`). Names compare without case there, as Windows does.
 *
 * Anything else an installer needs (a proxy, a licence server's address) is passed by name with the
 * agent's `--installer-env NAME` (repeated; `installerEnv` in the config file): the operator decides,
 * per name, what leaves the agent. Proxies are not in the default list on purpose: their URLs often
 * carry a password.
 */

/** The environment variable that tells an install command where the verified package file is. */
export const PACKAGE_PATH_ENV = 'FLEETCAST_PACKAGE_PATH';

const COMMON = ['PATH'];
const POSIX = ['HOME', 'USER', 'LOGNAME', 'TMPDIR', 'TZ', 'LANG'];
const POSIX_PREFIXES = ['LC_'];
const WINDOWS = [
  'SystemRoot',
  'SystemDrive',
  'windir',
  'ComSpec',
  'PATHEXT',
  'TEMP',
  'TMP',
  'ProgramFiles',
  'ProgramFiles(x86)',
  'ProgramW6432',
  'CommonProgramFiles',
  'CommonProgramFiles(x86)',
  'CommonProgramW6432',
  'ProgramData',
  'ALLUSERSPROFILE',
  'PUBLIC',
  'USERPROFILE',
  'APPDATA',
  'LOCALAPPDATA',
  'HOMEDRIVE',
  'HOMEPATH',
  'USERNAME',
  'USERDOMAIN',
  'COMPUTERNAME',
  'OS',
  'PROCESSOR_ARCHITECTURE',
  'NUMBER_OF_PROCESSORS',
];

/** A variable name `--installer-env` accepts: what shells and Windows allow, `ProgramFiles(x86)` included. */
export const INSTALLER_ENV_NAME = /^[A-Za-z_][A-Za-z0-9_()]{0,127}$/;

/** The names passed by default on a platform (see above); `extra` names are added. */
export function installerEnvAllowlist(platform: string, extra: readonly string[] = []): { names: string[]; prefixes: string[] } {
  const windows = platform === 'win32';
  return { names: [...COMMON, ...(windows ? WINDOWS : POSIX), ...extra], prefixes: windows ? [] : POSIX_PREFIXES };
}

/**
 * The installer's environment from the agent's: the allowlisted variables that are set, and the
 * package path. `extra`: the operator's `--installer-env` names.
 */
export function installerEnvironment(agentEnv: Readonly<Record<string, string | undefined>>, packagePath: string, platform: string, extra: readonly string[] = []): Record<string, string> {
  const { names, prefixes } = installerEnvAllowlist(platform, extra);
  const windows = platform === 'win32';
  const key = (name: string) => (windows ? name.toUpperCase() : name);
  const allowed = new Set(names.map(key));
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(agentEnv)) {
    if (value === undefined) continue;
    if (allowed.has(key(name)) || prefixes.some((p) => name.startsWith(p))) env[name] = value;
  }
  // Set by the agent, whatever its own environment says (also on Windows, where `Fleetcast_Package_Path` is the same name).
  for (const name of Object.keys(env)) if (key(name) === key(PACKAGE_PATH_ENV)) delete env[name];
  env[PACKAGE_PATH_ENV] = packagePath;
  return env;
}
