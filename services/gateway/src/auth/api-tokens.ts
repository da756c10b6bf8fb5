import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ANONYMOUS_ACTOR, ApiScope, apiScopeSchema, idSchema } from '@fleetcast/contracts';

/**
 * API tokens as the gateway's configuration holds them, and the pure functions around them: parsing
 * `API_TOKENS`, matching a presented token, making a new one.
 *
 * An entry reads `<name>:<scope>:sha256:<64 hex digits>`: the token's SHA-256, never the token.
 * SHA-256 without salt or stretching is enough because the tokens are made by `api-token new`:
 * 256 random bits, which no dictionary holds and no search over hashes reaches; a slow hash would
 * only cost every request its time.
 *
 * An entry without `:` is a token in clear, as earlier versions took them: accepted, for a
 * developer's machine and test harnesses, with the admin scope and the name `plaintext-<position>`,
 * and a warning at start. A mistyped hashed entry is an error, never read as a token in clear.
 */
export interface ApiToken {
  /** Who holds it: the actor in the audit log. */
  readonly name: string;
  readonly scope: ApiScope;
  /** SHA-256 of the token. */
  readonly digest: Buffer;
  /** Given in clear in the configuration (the earlier form). */
  readonly storedInClear: boolean;
}

/**
 * Prefix of the tokens `api-token new` makes: it says what a leaked string is, so that secret
 * scanners can be taught to look for it and a reader of a log knows what to revoke.
 */
export const API_TOKEN_PREFIX = 'fct_';
/** 32 bytes: 256 bits, beyond any search, also of an unsalted hash. */
const TOKEN_BYTES = 32;

const HASH_ALGORITHM = 'sha256';
const HEX_DIGEST = /^[0-9a-fA-F]{64}$/;
/** What an Authorization header can carry as a bearer token. */
const PRINTABLE = /^[\x21-\x7e]+$/;

/** SHA-256 of a token: a fixed-length value that `timingSafeEqual` can compare whatever the token's length. */
export function tokenDigest(token: string): Buffer {
  return createHash(HASH_ALGORITHM).update(token, 'utf8').digest();
}

/** The configuration entry of a token: what `API_TOKENS` holds instead of the token. */
export function hashedEntry(name: string, scope: ApiScope, token: string): string {
  return `${name}:${scope}:${HASH_ALGORITHM}:${tokenDigest(token).toString('hex')}`;
}

/** A new token: the prefix and 32 random bytes, base64url (no `,` or `:`, nothing a header cannot carry). */
export function newApiToken(random: (size: number) => Buffer = randomBytes): string {
  return `${API_TOKEN_PREFIX}${random(TOKEN_BYTES).toString('base64url')}`;
}

/** The name a token in clear gets: it has none of its own, and its text must not become one. */
export function plaintextTokenName(position: number): string {
  return `plaintext-${position}`;
}

export interface ParsedApiTokens {
  tokens: ApiToken[];
  /** What is wrong, one line per problem; entries are named by position, never quoted (one may be a secret). */
  problems: string[];
}

/** Parses `API_TOKENS`: comma-separated entries, blanks ignored. */
export function parseApiTokens(raw: string): ParsedApiTokens {
  const tokens: ApiToken[] = [];
  const problems: string[] = [];
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  entries.forEach((entry, index) => {
    const position = index + 1;
    const parsed = parseEntry(entry, position);
    if (typeof parsed === 'string') problems.push(`entry ${position}: ${parsed}`);
    else tokens.push(parsed);
  });
  const names = new Set<string>();
  const digests = new Map<string, string>();
  for (const token of tokens) {
    if (names.has(token.name)) problems.push(`the name "${token.name}" is given twice: the audit log tells tokens apart by their names`);
    names.add(token.name);
    const hex = token.digest.toString('hex');
    const other = digests.get(hex);
    if (other !== undefined) problems.push(`"${token.name}" is the same token as "${other}": one token cannot have two names or scopes`);
    else digests.set(hex, token.name);
  }
  return { tokens, problems };
}

function parseEntry(entry: string, position: number): ApiToken | string {
  if (!entry.includes(':')) {
    if (!PRINTABLE.test(entry)) return 'a token must be printable ASCII without spaces';
    return { name: plaintextTokenName(position), scope: 'admin', digest: tokenDigest(entry), storedInClear: true };
  }
  const parts = entry.split(':');
  if (parts.length !== 4 || parts[2] !== HASH_ALGORITHM) return 'expected <name>:<scope>:sha256:<64 hex digits> (make one with `api-token new`)';
  const [name, scope, , hex] = parts as [string, string, string, string];
  if (!idSchema.safeParse(name).success) return 'the name must be 1-64 characters of A-Z, a-z, 0-9, "_" or "-"';
  if (name === ANONYMOUS_ACTOR) return `the name "${ANONYMOUS_ACTOR}" is reserved for requests without a token`;
  const parsedScope = apiScopeSchema.safeParse(scope);
  if (!parsedScope.success) return `the scope must be one of ${apiScopeSchema.options.join(', ')}`;
  if (!HEX_DIGEST.test(hex)) return 'the digest must be 64 hex digits (SHA-256 of the token)';
  return { name, scope: parsedScope.data, digest: Buffer.from(hex, 'hex'), storedInClear: false };
}

/**
 * The configured token that `presented` is, if any, in time that depends on neither the presented
 * token nor which token it matches: every digest is compared, in constant time, with no early exit.
 */
export function matchApiToken(presented: string, tokens: readonly ApiToken[]): ApiToken | undefined {
  const digest = tokenDigest(presented);
  let matched: ApiToken | undefined;
  for (const token of tokens) {
    // Compared first on purpose: `matched ?? ...` would skip the remaining comparisons.
    const equal = timingSafeEqual(digest, token.digest);
    if (equal && matched === undefined) matched = token;
  }
  return matched;
}

/** Reads `Authorization: Bearer <token>`; anything else yields no token. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return match?.[1];
}

/** What a request's Authorization header amounts to. */
export type Credential = { kind: 'none' } | { kind: 'invalid' } | { kind: 'token'; token: ApiToken };

export function credentialOf(authorization: string | undefined, tokens: readonly ApiToken[]): Credential {
  const presented = bearerToken(authorization);
  if (presented === undefined) return { kind: 'none' };
  const token = matchApiToken(presented, tokens);
  return token ? { kind: 'token', token } : { kind: 'invalid' };
}

/** The query parameter an event-stream client may carry its token in (RFC 6750 2.3's name). */
export const EVENT_STREAM_TOKEN_PARAMETER = 'access_token';
/** The cookie an event-stream client may carry its token in (a console served from the same origin). */
export const EVENT_STREAM_TOKEN_COOKIE = 'fleetcast_token';
/** The routes that take a token from the query or a cookie: the event streams, and nothing else. */
const EVENT_STREAM_PATH = /^\/v1\/(?:events|tasks\/[^/]+\/events)\/?$/;

/**
 * The Authorization header a request amounts to. A browser's EventSource cannot set headers, so a
 * GET of an event stream without one may carry its token as `access_token` in the query string or
 * in the `fleetcast_token` cookie; every other route takes the header only (a token in a URL ends
 * up in histories and proxy logs; the gateway's own request log leaves query strings out).
 */
export function effectiveAuthorization(req: { method: string; originalUrl?: string; url: string; headers: { authorization?: string; cookie?: string } }): string | undefined {
  if (req.headers.authorization !== undefined) return req.headers.authorization;
  if (req.method !== 'GET') return undefined;
  let url: URL;
  try {
    url = new URL(req.originalUrl ?? req.url, 'http://gateway.invalid');
  } catch {
    return undefined;
  }
  if (!EVENT_STREAM_PATH.test(url.pathname)) return undefined;
  // Given twice, it is ambiguous: no token.
  const fromQuery = url.searchParams.getAll(EVENT_STREAM_TOKEN_PARAMETER);
  if (fromQuery.length === 1 && fromQuery[0]!.length > 0) return `Bearer ${fromQuery[0]}`;
  if (fromQuery.length > 1) return undefined;
  const fromCookie = cookieValue(req.headers.cookie, EVENT_STREAM_TOKEN_COOKIE);
  return fromCookie === undefined ? undefined : `Bearer ${fromCookie}`;
}

/** One cookie's value from a Cookie header (RFC 6265 5.4), percent-decoded; undefined when absent or undecodable. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at < 0 || part.slice(0, at).trim() !== name) continue;
    try {
      const value = decodeURIComponent(part.slice(at + 1).trim());
      return value.length > 0 ? value : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
