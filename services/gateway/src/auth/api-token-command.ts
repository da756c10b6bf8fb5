import { parseArgs } from 'node:util';
import { ANONYMOUS_ACTOR, apiScopeSchema, idSchema } from '@fleetcast/contracts';
import { hashedEntry, newApiToken } from './api-tokens';

export const API_TOKEN_USAGE = `usage:
  api-token new --name <name> --scope <read-only|operator|admin>
  api-token hash --name <name> --scope <read-only|operator|admin>   (reads an existing token on stdin)`;

/** A command line that cannot be run as given; the usage is printed with it. */
export class ApiTokenUsageError extends Error {
  readonly code = 'API_TOKEN.USAGE';
}

export interface ApiTokenCommandIo {
  /** The whole of standard input (only `hash` reads it). */
  readStdin(): string;
  /** Random bytes (tests pass a fixed source). */
  random?: (size: number) => Buffer;
}

/**
 * `new` makes a token and prints it, once, with its entry for `API_TOKENS`; `hash` prints the entry
 * of a token it reads on stdin (never from the command line, where the shell's history and the
 * process list would keep it), to move a token given in clear to the hashed form without handing
 * its holder a new one. Returns what to print.
 */
export function runApiTokenCommand(argv: readonly string[], io: ApiTokenCommandIo): string {
  const [command, ...rest] = argv;
  if (command !== 'new' && command !== 'hash') throw new ApiTokenUsageError(command ? `unknown command "${command}"` : 'give a command');
  const { values, positionals } = parseArgs({
    args: [...rest],
    strict: true,
    allowPositionals: true,
    options: { name: { type: 'string' }, scope: { type: 'string' } },
  });
  if (positionals.length > 0) throw new ApiTokenUsageError(`unexpected argument "${positionals[0]}"${command === 'hash' ? ': the token is read on stdin' : ''}`);
  const name = values.name;
  if (name === undefined) throw new ApiTokenUsageError('--name is required: who holds the token (the audit log names it)');
  if (!idSchema.safeParse(name).success) throw new ApiTokenUsageError('--name must be 1-64 characters of A-Z, a-z, 0-9, "_" or "-"');
  if (name === ANONYMOUS_ACTOR) throw new ApiTokenUsageError(`--name "${ANONYMOUS_ACTOR}" is reserved for requests without a token`);
  const scope = apiScopeSchema.safeParse(values.scope);
  if (!scope.success) throw new ApiTokenUsageError(`--scope must be one of ${apiScopeSchema.options.join(', ')}`);

  if (command === 'hash') {
    const token = io.readStdin().trim();
    if (token.length === 0) throw new ApiTokenUsageError('hash reads the token on stdin, and got none');
    // What a client can send in an Authorization header; a comma would also split API_TOKENS.
    if (!/^[\x21-\x7e]+$/.test(token) || token.includes(',')) throw new ApiTokenUsageError('the token must be printable ASCII without spaces or commas');
    const entry = hashedEntry(name, scope.data, token);
    return `# The entry for the gateway's API_TOKENS (comma-separated with the others), in place of the token in clear:\nAPI_TOKENS_ENTRY=${entry}`;
  }

  const token = newApiToken(io.random);
  return [
    '# The token, shown this once and stored nowhere: give it to its holder, who sends it as "Authorization: Bearer <token>".',
    `API_TOKEN=${token}`,
    "# Its entry for the gateway's API_TOKENS (comma-separated with the others): the token's SHA-256, its name and scope.",
    `API_TOKENS_ENTRY=${hashedEntry(name, scope.data, token)}`,
  ].join('\n');
}
