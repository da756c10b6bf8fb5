import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Download tokens: what lets a device fetch content from the origin. The tasks service issues one
 * to an authenticated device that is a target of a task with that content; the origin checks it
 * with the same secret and counts the bytes against the device it names (authenticated, unlike a
 * header the client fills in). Short-lived: a token that leaks is worth an hour of one package.
 *
 *   fcd1.<deviceId>.<contentId>.<expires, unix seconds>.<HMAC-SHA256, base64url>
 *
 * Device IDs and content IDs contain no '.', so the token splits unambiguously.
 */
const PREFIX = 'fcd1';
/** 32 bytes: HMAC-SHA256's block size would allow more, but its output (and so its strength) is 32. */
export const MIN_DOWNLOAD_SECRET_BYTES = 32;

export interface DownloadTokenClaims {
  deviceId: string;
  contentId: string;
  expiresAt: Date;
}

export type DownloadTokenCheck =
  | { ok: true; deviceId: string; expiresAt: Date }
  | { ok: false; reason: string };

function mac(secret: Uint8Array, body: string): string {
  return createHmac('sha256', secret).update(body, 'utf8').digest('base64url');
}

function checkSecret(secret: Uint8Array): void {
  if (secret.length < MIN_DOWNLOAD_SECRET_BYTES) throw new RangeError(`a download-token secret needs at least ${MIN_DOWNLOAD_SECRET_BYTES} bytes`);
}

export function issueDownloadToken(secret: Uint8Array, claims: DownloadTokenClaims): string {
  checkSecret(secret);
  const body = `${PREFIX}.${claims.deviceId}.${claims.contentId}.${Math.floor(claims.expiresAt.getTime() / 1000)}`;
  return `${body}.${mac(secret, body)}`;
}

/** Checks a token for `contentId` at `now`; says why when it fails (the origin logs it, the device sees a 401). */
export function verifyDownloadToken(secret: Uint8Array, token: string, contentId: string, now: Date): DownloadTokenCheck {
  checkSecret(secret);
  const parts = token.split('.');
  if (parts.length !== 5 || parts[0] !== PREFIX) return { ok: false, reason: 'not a download token' };
  const [, deviceId, tokenContentId, expires, signature] = parts as [string, string, string, string, string];
  const expected = Buffer.from(mac(secret, parts.slice(0, 4).join('.')));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'the token is not the control plane\'s (bad signature)' };
  if (tokenContentId !== contentId) return { ok: false, reason: `the token is for content ${tokenContentId.slice(0, 16)}..., not this one` };
  const expiresAt = new Date(Number(expires) * 1000);
  if (!Number.isFinite(expiresAt.getTime()) || expiresAt.getTime() <= now.getTime()) return { ok: false, reason: `the token expired at ${Number.isFinite(expiresAt.getTime()) ? expiresAt.toISOString() : expires}` };
  return { ok: true, deviceId, expiresAt };
}
