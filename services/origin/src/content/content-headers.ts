import { isIPv4, isIPv6 } from 'node:net';
import { IncomingHttpHeaders } from 'node:http';
import { idSchema } from '@fleetcast/contracts';
import { InvalidHeaderError, SizeMismatchError } from './content.exception';

/** Request headers of the content API (lowercase, as Node delivers them). */
export const HEADER = {
  declaredSha256: 'x-content-sha256',
  declaredSize: 'x-content-size',
  contentLength: 'content-length',
  device: 'x-fleetcast-device',
  subnet: 'x-fleetcast-subnet',
} as const;

/** Label of bytes served to a requester that did not say who it is. */
export const UNKNOWN_REQUESTER = 'unknown';

/** What an uploader declares about its body; each declaration is checked against the bytes. */
export interface UploadDeclaration {
  sha256?: string;
  /** From `content-length`. */
  contentLength?: number;
  /** From `x-content-size`, which serves chunked uploads (they have no length). */
  size?: number;
}

/** Who is downloading, as metric labels. */
export interface Requester {
  device: string;
  subnet: string;
}

/** A header given at most once, trimmed; given twice is a 400 that names it. */
export function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (Array.isArray(value)) throw new InvalidHeaderError(name, 'given more than once');
  return value === undefined ? undefined : value.trim();
}

/** A header holding a whole number of bytes (absent: undefined); anything else is a 400 that names it. */
export function byteCount(headers: IncomingHttpHeaders, name: string): number | undefined {
  const raw = single(headers, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value)) throw new InvalidHeaderError(name, 'must be a whole number of bytes');
  return value;
}

/** Reads the declared hash and sizes of an upload; a malformed one is a 400 naming its header. */
export function parseUploadDeclaration(headers: IncomingHttpHeaders): UploadDeclaration {
  const declaration: UploadDeclaration = {};
  const sha256 = single(headers, HEADER.declaredSha256)?.toLowerCase();
  if (sha256 !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new InvalidHeaderError(HEADER.declaredSha256, 'must be a SHA-256 as 64 hex characters');
    declaration.sha256 = sha256;
  }
  const contentLength = byteCount(headers, HEADER.contentLength);
  if (contentLength !== undefined) declaration.contentLength = contentLength;
  const size = byteCount(headers, HEADER.declaredSize);
  if (size !== undefined) declaration.size = size;
  return declaration;
}

/**
 * The size an upload must have, if it declared one. Two declarations that disagree cannot both
 * hold, so the upload is refused before a byte is stored.
 */
export function declaredSizeOf(declaration: UploadDeclaration): number | undefined {
  const { contentLength, size } = declaration;
  if (contentLength !== undefined && size !== undefined && contentLength !== size) {
    throw new SizeMismatchError(`${HEADER.contentLength} ${contentLength} and ${HEADER.declaredSize} ${size} disagree`);
  }
  return size ?? contentLength;
}

function isCidr(value: string): boolean {
  const slash = value.indexOf('/');
  if (slash < 0) return false;
  const address = value.slice(0, slash);
  const prefix = value.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefix)) return false;
  if (isIPv4(address)) return Number(prefix) <= 32;
  if (isIPv6(address)) return Number(prefix) <= 128;
  return false;
}

/**
 * Reads who is downloading. The values become Prometheus labels, so a malformed one is refused
 * rather than counted: free text there would let any client create unbounded series.
 */
export function parseRequester(headers: IncomingHttpHeaders): Requester {
  const device = single(headers, HEADER.device);
  if (device !== undefined && !idSchema.safeParse(device).success) {
    throw new InvalidHeaderError(HEADER.device, 'must be a device ID: 1-64 characters of A-Z, a-z, 0-9, "_" or "-"');
  }
  const subnet = single(headers, HEADER.subnet)?.toLowerCase();
  if (subnet !== undefined && !isCidr(subnet)) {
    throw new InvalidHeaderError(HEADER.subnet, 'must be a subnet in CIDR notation, such as 10.1.2.0/24 or fd00::/64');
  }
  return { device: device || UNKNOWN_REQUESTER, subnet: subnet || UNKNOWN_REQUESTER };
}
