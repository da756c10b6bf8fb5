/**
 * HTTP Range and conditional-request decisions for content downloads (RFC 9110 sections 13 and 14),
 * as pure functions: the controller feeds in request headers and a size, and writes what comes out.
 */

/** An inclusive byte range, as HTTP spells it (`bytes=start-end`). */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeRequest =
  /** No Range header. */
  | { kind: 'absent' }
  /**
   * A Range header the server may ignore (RFC 9110 14.2): an unknown unit, bad syntax, or more than
   * one range. The full content is sent, which every client must accept.
   */
  | { kind: 'ignored'; reason: string }
  | { kind: 'satisfiable'; range: ByteRange }
  /** Every range starts at or beyond the end: 416 (RFC 9110 15.5.17). */
  | { kind: 'unsatisfiable' };

const RANGE_SPEC = /^(\d*)-(\d*)$/;

/**
 * Parses a `Range` header against content of `size` bytes. Only single ranges are served: a client
 * resuming or fetching one block asks for one range, and multipart/byteranges responses would cost
 * code for no caller.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined || header.trim() === '') return { kind: 'absent' };
  const eq = header.indexOf('=');
  if (eq < 0) return { kind: 'ignored', reason: 'no "="' };
  // The range unit is case-insensitive (RFC 9110 14.1).
  if (header.slice(0, eq).trim().toLowerCase() !== 'bytes') return { kind: 'ignored', reason: 'unit is not bytes' };
  // A list may carry empty elements and optional whitespace (RFC 9110 5.6.1).
  const specs = header
    .slice(eq + 1)
    .split(',')
    .map((spec) => spec.trim())
    .filter((spec) => spec !== '');
  if (specs.length === 0) return { kind: 'ignored', reason: 'no range' };
  if (specs.length > 1) return { kind: 'ignored', reason: 'more than one range' };
  const match = RANGE_SPEC.exec(specs[0]!);
  if (!match) return { kind: 'ignored', reason: 'bad range syntax' };
  const [, first, last] = match as unknown as [string, string, string];

  if (first === '') {
    // Suffix range: the last n bytes (RFC 9110 14.1.3).
    if (last === '') return { kind: 'ignored', reason: 'bad range syntax' };
    const length = Number(last);
    if (length === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'satisfiable', range: { start: Math.max(0, size - length), end: size - 1 } };
  }
  const start = Number(first);
  const end = last === '' ? Infinity : Number(last);
  if (end < start) return { kind: 'ignored', reason: 'last byte before first byte' };
  if (start >= size) return { kind: 'unsatisfiable' };
  // A last byte beyond the end means "to the end" (RFC 9110 14.1.2).
  return { kind: 'satisfiable', range: { start, end: Math.min(end, size - 1) } };
}

/** Strong entity tag of a content ID: the bytes of a content ID never change. */
export function entityTag(contentId: string): string {
  return `"${contentId}"`;
}

/** `If-None-Match` uses the weak comparison (RFC 9110 13.1.2): `W/"x"` matches `"x"`. */
export function noneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag);
}

/**
 * `If-Range` uses the strong comparison (RFC 9110 13.1.5): only the exact, non-weak tag keeps the
 * Range. A date never does, because the origin sends no Last-Modified (content IDs are the validator).
 */
export function ifRangeHolds(header: string | undefined, etag: string): boolean {
  return header === undefined || header.trim() === etag;
}

/**
 * Content is addressed by its hash, so a response for a content ID is valid forever: caches
 * (a branch-office proxy, a browser) may keep it a year, the longest RFC 9111 practice allows.
 */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';

export interface DownloadRequest {
  method: 'GET' | 'HEAD';
  contentId: string;
  size: number;
  range?: string;
  ifRange?: string;
  ifNoneMatch?: string;
}

export interface DownloadPlan {
  status: 200 | 206 | 304 | 416;
  headers: Record<string, string>;
  /** Bytes to send, or null for no body (HEAD, 304, 416, empty content). */
  body: ByteRange | null;
}

/** Decides status, headers and body of a download. */
export function planDownload(request: DownloadRequest): DownloadPlan {
  const etag = entityTag(request.contentId);
  const common = { ETag: etag, 'Accept-Ranges': 'bytes', 'Cache-Control': IMMUTABLE_CACHE_CONTROL };

  // If-None-Match is evaluated before Range (RFC 9110 13.2.2).
  if (noneMatchHits(request.ifNoneMatch, etag)) return { status: 304, headers: common, body: null };

  // Range is defined for GET only; a server must ignore it on other methods (RFC 9110 14.2).
  const range =
    request.method === 'GET' && ifRangeHolds(request.ifRange, etag) ? parseRange(request.range, request.size) : ({ kind: 'absent' } as const);
  const sendBody = request.method === 'GET';

  if (range.kind === 'unsatisfiable') {
    return { status: 416, headers: { ...common, 'Content-Range': `bytes */${request.size}` }, body: null };
  }
  if (range.kind === 'satisfiable') {
    const { start, end } = range.range;
    return {
      status: 206,
      headers: {
        ...common,
        'Content-Type': 'application/octet-stream',
        'Content-Range': `bytes ${start}-${end}/${request.size}`,
        'Content-Length': String(end - start + 1),
      },
      body: { start, end },
    };
  }
  return {
    status: 200,
    headers: { ...common, 'Content-Type': 'application/octet-stream', 'Content-Length': String(request.size) },
    body: sendBody && request.size > 0 ? { start: 0, end: request.size - 1 } : null,
  };
}
