import { IncomingHttpHeaders } from 'node:http';
import { InvalidHeaderError } from '../content/content.exception';
import { byteCount, single } from '../content/content-headers';

/**
 * Request and response headers of resumable uploads, named as the tus protocol (tus.io, 1.0) names
 * them so that a reader who knows it knows these: the size is declared once, every chunk says where
 * it starts, and HEAD answers where the upload stands.
 */
export const UPLOAD_HEADER = {
  length: 'upload-length',
  offset: 'upload-offset',
  expires: 'upload-expires',
  declaredSha256: 'x-content-sha256',
  label: 'x-upload-label',
} as const;

/** What a client declares when it creates an upload. */
export interface UploadDeclaration {
  size: number;
  sha256: string | null;
  /** The caller's own tag (the gateway: the package's ID), returned with the upload's status. */
  label: string | null;
}

/** The declaration of a new upload; a missing or malformed header is a 400 that names it. */
export function parseUploadCreation(headers: IncomingHttpHeaders, maxSize: number): UploadDeclaration {
  const size = byteCount(headers, UPLOAD_HEADER.length);
  if (size === undefined) throw new InvalidHeaderError(UPLOAD_HEADER.length, 'required: the size of the whole upload in bytes');
  if (size > maxSize) throw new InvalidHeaderError(UPLOAD_HEADER.length, `must be at most ${maxSize} bytes`);
  const sha256 = single(headers, UPLOAD_HEADER.declaredSha256)?.toLowerCase();
  if (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256)) throw new InvalidHeaderError(UPLOAD_HEADER.declaredSha256, 'must be a SHA-256 as 64 hex characters');
  const label = single(headers, UPLOAD_HEADER.label);
  if (label !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(label)) throw new InvalidHeaderError(UPLOAD_HEADER.label, 'must be 1-64 characters of A-Z, a-z, 0-9, "_" or "-"');
  return { size, sha256: sha256 ?? null, label: label ?? null };
}

/** Where a chunk starts (required) and, when the client said, how long it is. */
export function parseChunkHeaders(headers: IncomingHttpHeaders): { offset: number; length: number | undefined } {
  const offset = byteCount(headers, UPLOAD_HEADER.offset);
  if (offset === undefined) throw new InvalidHeaderError(UPLOAD_HEADER.offset, 'required: the byte offset this chunk starts at (HEAD the upload to learn it)');
  return { offset, length: byteCount(headers, 'content-length') };
}

/** An upload ID as this origin makes them (a random UUID); anything else cannot name an upload. */
export function isUploadId(raw: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(raw);
}
