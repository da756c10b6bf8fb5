import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

/**
 * A real HTTP origin on 127.0.0.1 serving one file with Range and ETag, the way the content origin
 * does, and able to misbehave on chosen requests. It records every request and the body bytes it
 * handed to the socket, so tests can prove what was (not) downloaded again.
 */

/** How to answer one request. */
export type Behaviour =
  | { kind: 'ok' }
  /** Send this many body bytes, then cut the connection. */
  | { kind: 'truncate'; afterBytes: number }
  /** Flip one byte at this offset of the file (when the range covers it). */
  | { kind: 'corrupt'; fileOffset: number }
  /** Send this many body bytes, then stop sending and keep the connection open. */
  | { kind: 'stall'; afterBytes: number }
  | { kind: 'status'; status: number }
  /** Answer 200 with the whole file, ignoring Range. */
  | { kind: 'ignore-range' };

export interface ServedRequest {
  range: string | null;
  headers: IncomingMessage['headers'];
  status: number;
  /** File offset of the first body byte. */
  start: number;
  bodyBytes: number;
}

export interface TestOrigin {
  url: string;
  requests: ServedRequest[];
  /** Body bytes served over all requests. */
  bytesServed(): number;
  close(): Promise<void>;
}

export interface TestOriginOptions {
  data: Buffer;
  /** The ETag header; omitted when null. */
  etag: string | null;
  /** Chooses the behaviour of request number `n` (0-based). */
  behave?: (n: number, range: string | null) => Behaviour;
}

/** Bytes per write: close to what a file stream hands out, small enough that a stall lands mid-block. */
const WRITE_CHUNK = 4096;

export async function startTestOrigin(options: TestOriginOptions): Promise<TestOrigin> {
  const requests: ServedRequest[] = [];
  const server = createServer((req, res) => {
    const n = requests.length;
    const range = req.headers.range ?? null;
    const behaviour = options.behave?.(n, range) ?? { kind: 'ok' };
    const record: ServedRequest = { range, headers: req.headers, status: 0, start: 0, bodyBytes: 0 };
    requests.push(record);
    void serve(options, behaviour, req, res, record).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/content/file`,
    requests,
    bytesServed: () => requests.reduce((sum, r) => sum + r.bodyBytes, 0),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function serve(options: TestOriginOptions, behaviour: Behaviour, req: IncomingMessage, res: ServerResponse, record: ServedRequest): Promise<void> {
  const size = options.data.length;
  if (behaviour.kind === 'status') {
    record.status = behaviour.status;
    res.writeHead(behaviour.status).end();
    return;
  }
  let start = 0;
  let end = size; // exclusive
  let status = 200;
  const match = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (match && behaviour.kind !== 'ignore-range') {
    start = Number(match[1]);
    end = match[2] ? Math.min(Number(match[2]) + 1, size) : size;
    if (start >= size || end <= start) {
      record.status = 416;
      res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      return;
    }
    status = 206;
  }
  const headers: Record<string, string> = { 'content-length': String(end - start), 'accept-ranges': 'bytes' };
  if (options.etag !== null) headers.etag = options.etag;
  if (status === 206) headers['content-range'] = `bytes ${start}-${end - 1}/${size}`;
  record.status = status;
  record.start = start;
  res.writeHead(status, headers);

  const body = Buffer.from(options.data.subarray(start, end));
  if (behaviour.kind === 'corrupt' && behaviour.fileOffset >= start && behaviour.fileOffset < end) body[behaviour.fileOffset - start]! ^= 0xff;
  const limit = behaviour.kind === 'truncate' || behaviour.kind === 'stall' ? Math.min(behaviour.afterBytes, body.length) : body.length;

  for (let offset = 0; offset < limit; offset += WRITE_CHUNK) {
    if (res.destroyed) return;
    const piece = body.subarray(offset, Math.min(offset + WRITE_CHUNK, limit));
    record.bodyBytes += piece.length;
    if (!res.write(piece)) await drainedOrClosed(res);
  }
  if (behaviour.kind === 'truncate') {
    // Close the connection (FIN, not RST, so that the bytes sent so far all arrive) without ending the body.
    res.socket?.end();
    return;
  }
  if (behaviour.kind === 'stall') return; // the connection stays open until the client gives up
  res.end();
}

/** Waits until `res` drains or closes, leaving no listener behind (a response may wait many times). */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}
