import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures, in the form receivers of Stripe and GitHub webhooks know:
 *
 *   Fleetcast-Signature: t=1764763200,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
 *
 * `v1` is HMAC-SHA256 under the subscription's secret over `<t>.<raw body>`, in lowercase hex. The
 * timestamp is signed with the body, so a captured delivery cannot be replayed later than the
 * receiver's tolerance; the delivery ID (`Fleetcast-Delivery`, also `id` in the body) lets a receiver
 * drop a delivery it already handled (a retry after its answer was lost). During a secret rotation
 * the header carries one `v1` per secret, and a receiver accepts any it knows.
 *
 * This file has no dependency beyond `node:crypto`: a receiver may copy it as it is.
 */

export const WEBHOOK_SIGNATURE_HEADER = 'fleetcast-signature';
export const WEBHOOK_DELIVERY_HEADER = 'fleetcast-delivery';
export const WEBHOOK_EVENT_HEADER = 'fleetcast-event';

/**
 * How old a delivery's timestamp may be, and how far ahead: five minutes, as Stripe's libraries
 * default to. Each delivery attempt is signed afresh, so a retry is never stale.
 */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The `v1` signature of `body` at `timestamp` (Unix seconds) under `secret`, lowercase hex. */
export function webhookSignature(secret: string, timestamp: number, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body).digest('hex');
}

/** The header value for a delivery of `body` signed now (or at `timestamp`) with each of `secrets`. */
export function signWebhook(secrets: string | readonly string[], body: string | Uint8Array, timestamp = Math.floor(Date.now() / 1000)): string {
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  if (list.length === 0) throw new RangeError('at least one secret is needed to sign a webhook');
  return [`t=${timestamp}`, ...list.map((secret) => `v1=${webhookSignature(secret, timestamp, body)}`)].join(',');
}

export type WebhookVerification = { ok: true; timestamp: number } | { ok: false; reason: string };

export interface VerifyWebhookOptions {
  /** The subscription's secret, or several while one is being rotated. */
  secret: string | readonly string[];
  /** The `Fleetcast-Signature` header as received (undefined when it is missing). */
  header: string | string[] | undefined;
  /** The raw body as received, before any JSON parsing. */
  body: string | Uint8Array;
  toleranceSeconds?: number;
  /** Unix seconds; the clock by default. */
  now?: number;
}

/**
 * Checks a delivery: the header is well formed, its timestamp within the tolerance, and one of its
 * `v1` signatures is that of the body under one of the secrets (compared in constant time).
 */
export function verifyWebhook(options: VerifyWebhookOptions): WebhookVerification {
  const header = Array.isArray(options.header) ? options.header[0] : options.header;
  if (typeof header !== 'string' || header.length === 0) return { ok: false, reason: `no ${WEBHOOK_SIGNATURE_HEADER} header` };
  let timestamp: number | null = null;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const at = part.indexOf('=');
    const key = part.slice(0, at).trim();
    const value = part.slice(at + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  if (timestamp === null) return { ok: false, reason: 'the signature header has no timestamp (t=)' };
  if (signatures.length === 0) return { ok: false, reason: 'the signature header has no v1 signature' };
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(now - timestamp) > tolerance) return { ok: false, reason: `the timestamp is ${now - timestamp} s from now, beyond the ${tolerance} s tolerance` };
  const secrets = typeof options.secret === 'string' ? [options.secret] : options.secret;
  for (const secret of secrets) {
    const expected = Buffer.from(webhookSignature(secret, timestamp, options.body), 'hex');
    if (signatures.some((s) => timingSafeEqual(Buffer.from(s, 'hex'), expected))) return { ok: true, timestamp };
  }
  return { ok: false, reason: 'no signature matches the body under the secret' };
}
