#!/usr/bin/env node
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { generateLicenseKeyPair, LicensePayload, licensePayloadSchema, MAX_LICENSE_SEATS, parsePrivateKey, signLicense } from './license/license-key';

/**
 * Issues license keys for trials and tests (production keys come from the vendor's own issuer,
 * which holds the private key):
 *
 *   node services/licensing/dist/src/issue-license.js keygen > license-issuer.txt
 *   node services/licensing/dist/src/issue-license.js issue --private-key license-issuer.txt \
 *     --customer "Example Corp" --seats 250 --days 30 [--features multicast,peer] [--license-id ID]
 *
 * `keygen` prints LICENSE_PUBLIC_KEY=<base64 DER> (the service's setting) and the private key as a
 * PKCS#8 PEM block; `issue` reads the PEM block from the file (other lines are ignored) and prints
 * the license key.
 */

const DAY_MS = 86_400_000;

const USAGE = `usage:
  issue-license keygen
  issue-license issue --private-key <file> --customer <name> --seats <n> --days <d> [--features a,b] [--license-id <id>]`;

class UsageError extends Error {}

function main(argv: string[]): string {
  const [command, ...rest] = argv;
  if (command === 'keygen') {
    if (rest.length > 0) throw new UsageError(`keygen takes no options (got ${rest.join(' ')})`);
    const pair = generateLicenseKeyPair();
    return `# Give the service LICENSE_PUBLIC_KEY; keep the private key below secret (issue --private-key reads this file).\nLICENSE_PUBLIC_KEY=${pair.publicKeyBase64}\n${pair.privateKeyPem.trimEnd()}`;
  }
  if (command !== 'issue') throw new UsageError(command ? `unknown command "${command}"` : 'give a command');
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      'private-key': { type: 'string' },
      customer: { type: 'string' },
      seats: { type: 'string' },
      days: { type: 'string' },
      features: { type: 'string' },
      'license-id': { type: 'string' },
    },
  });
  for (const required of ['private-key', 'customer', 'seats', 'days'] as const) {
    if (values[required] === undefined) throw new UsageError(`--${required} is required`);
  }
  const seats = wholeNumber('--seats', values.seats!, 1, MAX_LICENSE_SEATS);
  const days = wholeNumber('--days', values.days!, 1, 3650);
  const privateKey = parsePrivateKey(readFileSync(values['private-key']!, 'utf8'));
  // Whole seconds: the dates read cleanly in the key and in every reply that shows them.
  const issuedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
  const features = [...new Set((values.features ?? '').split(',').map((f) => f.trim()).filter((f) => f.length > 0))].sort();
  const payload: LicensePayload = {
    licenseId: values['license-id'] ?? randomUUID(),
    customer: values.customer!,
    seats,
    issuedAt: issuedAt.toISOString(),
    expiresAt: new Date(issuedAt.getTime() + days * DAY_MS).toISOString(),
    features,
  };
  const checked = licensePayloadSchema.safeParse(payload);
  if (!checked.success) throw new UsageError(checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return signLicense(checked.data, privateKey);
}

function wholeNumber(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`${name} must be a whole number from ${min} to ${max} (got "${text}")`);
  return value;
}

try {
  process.stdout.write(`${main(process.argv.slice(2))}\n`);
} catch (error) {
  process.stderr.write(`issue-license: ${(error as Error).message}\n${error instanceof UsageError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? `${USAGE}\n` : ''}`);
  process.exitCode = 2;
}
