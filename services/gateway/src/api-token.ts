#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { API_TOKEN_USAGE, ApiTokenUsageError, runApiTokenCommand } from './auth/api-token-command';

/**
 * Makes API tokens for the gateway (see docs/operations.md, "API tokens"):
 *
 *   node services/gateway/dist/src/api-token.js new --name ops-team --scope operator
 *   printf %s "$OLD_TOKEN" | node services/gateway/dist/src/api-token.js hash --name ci --scope read-only
 */
try {
  // File descriptor 0: standard input, read only by `hash`.
  process.stdout.write(`${runApiTokenCommand(process.argv.slice(2), { readStdin: () => readFileSync(0, 'utf8') })}\n`);
} catch (error) {
  const usage = error instanceof ApiTokenUsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`api-token: ${(error as Error).message}\n${usage ? `${API_TOKEN_USAGE}\n` : ''}`);
  process.exitCode = 2;
}
