import { request as httpRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** The answer to a request whose body was streamed. */
export interface StreamAnswer {
  status: number;
  header(name: string): string | null;
  text: string;
}

/** Sends a request whose body is read as it is sent. */
export type StreamRequest = (url: string, init: { method: string; headers: Record<string, string>; body: AsyncIterable<Uint8Array> }) => Promise<StreamAnswer>;

/**
 * An answer that comes before the body is all sent (a refusal) races the write error its closed
 * connection causes: the answer wins if it arrives within this long after the error.
 */
const EARLY_ANSWER_GRACE_MS = 1_000;

/**
 * Streams with Node's http client, which reads the body only as fast as the socket takes it. Node's
 * fetch does not: it reads an iterable body as fast as it can and queues what the socket has not
 * taken, so a 2 GiB upload over a slower link could hold most of the file in memory.
 */
export const httpStreamRequest: StreamRequest = (url, init) =>
  new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method: init.method, headers: init.headers });
    let answered = false;
    req.on('response', (res: IncomingMessage) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        // Answered before the body was all sent (a refusal): stop sending the rest.
        if (!req.writableFinished) req.destroy();
        const value = (name: string) => {
          const v = res.headers[name.toLowerCase()];
          return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
        };
        resolve({ status: res.statusCode ?? 0, header: value, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    const fail = (error: Error) => {
      if (answered) return;
      // Not unref'd: the wait must keep the process alive, or it would end quietly with nothing settled.
      setTimeout(() => {
        if (!answered) {
          req.destroy();
          reject(error);
        }
      }, EARLY_ANSWER_GRACE_MS);
    };
    req.on('error', fail);
    pipeline(Readable.from(init.body), req).catch(fail);
  });

/** The same through a fetch (what tests hand in to see the requests). */
export function fetchStreamRequest(fetchImpl: typeof fetch): StreamRequest {
  return async (url, init) => {
    const res = await fetchImpl(url, { method: init.method, headers: init.headers, body: init.body as unknown as RequestInit['body'], duplex: 'half' } as RequestInit);
    return { status: res.status, header: (name) => res.headers.get(name), text: await res.text() };
  };
}
