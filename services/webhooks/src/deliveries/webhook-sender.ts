import http from 'node:http';
import https from 'node:https';
import { lookup as dnsLookup, LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { WEBHOOK_DELIVERY_HEADER, WEBHOOK_EVENT_HEADER, WEBHOOK_SIGNATURE_HEADER, signWebhook } from '@fleetcast/webhook-signature';
import { addressRefusal, AllowedNetworks } from './address-policy';

/** What one attempt came to: the receiver's status (null when it gave none) and why it failed. */
export interface AttemptResult {
  status: number | null;
  error: string | null;
  durationMs: number;
}

export interface SendOptions {
  url: string;
  secret: string;
  deliveryId: string;
  eventType: string;
  body: string;
  timeoutMs: number;
  allowed: AllowedNetworks;
}

/** Bytes of a receiver's answer read at most (it is thrown away): a receiver cannot make a worker buffer its whole reply. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** Characters of an error message kept in the delivery log. */
const MAX_ERROR_CHARS = 500;

/** A refusal by the address policy at connect time, told apart from network errors in the log. */
class AddressRefusedError extends Error {}

/**
 * One signed POST of a delivery. The address the socket connects to is checked against the policy
 * in the lookup itself, so a name that resolved to a public address at subscription time and to a
 * private one now (DNS rebinding) is refused. Redirects are not followed (a 3xx is a failure: the
 * receiver must answer at the subscribed URL). The whole attempt, answer included, ends at the
 * timeout: a slow receiver never holds a worker longer.
 */
export function sendWebhook(options: SendOptions): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (status: number | null, error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status, error: error === null ? null : error.slice(0, MAX_ERROR_CHARS), durationMs: elapsed() });
    };
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      return finish(null, `"${options.url}" is not a URL`);
    }
    const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
    if (client === null) return finish(null, `the scheme ${url.protocol} is not http or https`);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) !== 0) {
      const refusal = addressRefusal(host, options.allowed);
      if (refusal !== null) return finish(null, `address refused: ${refusal}`);
    }
    const body = Buffer.from(options.body, 'utf8');
    const request = client.request(url, {
      method: 'POST',
      agent: false,
      headers: {
        'content-type': 'application/json',
        'content-length': body.length,
        'user-agent': 'Fleetcast-Webhooks/1',
        [WEBHOOK_EVENT_HEADER]: options.eventType,
        [WEBHOOK_DELIVERY_HEADER]: options.deliveryId,
        [WEBHOOK_SIGNATURE_HEADER]: signWebhook(options.secret, body),
      },
      lookup: (hostname, lookupOptions, callback) => {
        dnsLookup(hostname, { ...lookupOptions, all: true }, (error, addresses: LookupAddress[]) => {
          if (error) return callback(error, '', 0);
          const refusals = addresses.map((a) => addressRefusal(a.address, options.allowed));
          const usable = addresses.filter((_, i) => refusals[i] === null);
          if (usable.length === 0) return callback(new AddressRefusedError(`${hostname} resolves to ${refusals[0] ?? 'no address'}`), '', 0);
          if ((lookupOptions as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
          callback(null, usable[0]!.address, usable[0]!.family);
        });
      },
    });
    const timer = setTimeout(() => {
      request.destroy(new Error(`no answer within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    request.on('error', (error) => finish(null, error instanceof AddressRefusedError ? `address refused: ${error.message}` : error.message));
    request.on('response', (response) => {
      const status = response.statusCode ?? null;
      let read = 0;
      response.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_RESPONSE_BYTES) response.destroy();
      });
      const done = () => {
        if (status !== null && status >= 200 && status < 300) return finish(status, null);
        if (status !== null && status >= 300 && status < 400) return finish(status, `redirect to ${response.headers.location ?? '(no location)'} not followed: the receiver must answer at the subscribed URL`);
        finish(status, `the receiver answered ${status}`);
      };
      response.on('end', done);
      response.on('close', done);
      response.on('error', done);
    });
    request.end(body);
  });
}
