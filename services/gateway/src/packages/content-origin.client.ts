import { IncomingMessage, OutgoingHttpHeaders, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { PayloadTooLargeException } from '@nestjs/common';
import { z } from 'zod';
import { contentDescriptorSchema, errorBodySchema, ErrorCode } from '@fleetcast/contracts';
import { OriginRejectedError, OriginReplyInvalidError, OriginUnavailableError, UploadAbortedError } from './packages.exception';

export type ContentDescriptor = z.infer<typeof contentDescriptorSchema>;

/**
 * Largest reply read from the origin. A descriptor carries 32 bytes of block hash per 1 MiB block,
 * base64: about 2.8 MB for a 64 GiB package; 8 MiB leaves room and still bounds a runaway reply.
 */
const MAX_REPLY_BYTES = 8 * 1024 * 1024;

/** Request headers of an upload that are passed on to the origin as they came. */
const FORWARDED_HEADERS = ['content-length', 'x-content-sha256', 'x-content-size', 'authorization'] as const;

export interface UploadSource {
  stream: Readable;
  headers: Record<string, string | string[] | undefined>;
  /** Whether the whole body has been read; false after a client broke off. */
  readonly complete: boolean;
}

export interface ContentOriginOptions {
  /** The origin's API base URL, without a trailing slash. */
  baseUrl: string;
  /** Bodies larger than this are cut off and refused (413), also when they come without a length. */
  maxUploadBytes: number;
  /**
   * The gateway's own token for the origin. When set, it is sent instead of the caller's
   * Authorization header: the caller's token is checked by the gateway (by its hash, with its scope)
   * and need not be known to the origin in clear.
   */
  token?: string;
}

/**
 * Streams a package body to the content origin (`PUT /v1/content`) and returns the origin's
 * descriptor. The body is piped, never buffered: memory stays flat whatever the package's size,
 * and backpressure from the origin slows the client down. A refusal by the origin becomes an
 * OriginRejectedError with the origin's status; when that refusal comes early, sending stops.
 */
export class ContentOriginClient {
  private readonly uploadUrl: URL;

  constructor(private readonly options: ContentOriginOptions) {
    this.uploadUrl = new URL(`${options.baseUrl}/v1/content`);
  }

  upload(source: UploadSource): Promise<ContentDescriptor> {
    const headers: OutgoingHttpHeaders = { 'content-type': 'application/octet-stream' };
    for (const name of FORWARDED_HEADERS) {
      const value = source.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`;
    const send = this.uploadUrl.protocol === 'https:' ? httpsRequest : httpRequest;
    const upstream = send(this.uploadUrl, { method: 'PUT', headers });
    const { stream } = source;

    return new Promise<ContentDescriptor>((resolve, reject) => {
      let settled = false;
      let sent = 0;
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        stream.off('data', count);
        stream.off('close', onSourceClose);
        stream.unpipe(upstream);
        outcome();
      };
      const fail = (error: Error) => {
        // Destroying the request tells the origin the upload is incomplete, so it stores nothing.
        finish(() => reject(error));
        upstream.destroy();
      };
      const count = (chunk: Buffer) => {
        sent += chunk.length;
        if (sent > this.options.maxUploadBytes) {
          fail(new PayloadTooLargeException(`the package body exceeds the limit of ${this.options.maxUploadBytes} bytes`));
        }
      };
      const onSourceClose = () => {
        if (!source.complete) fail(new UploadAbortedError());
      };

      let answered = false;
      upstream.on('response', (reply) => {
        answered = true;
        // An early answer (a refusal) ends the upload: stop sending the rest.
        stream.unpipe(upstream);
        readReply(reply).then(
          (body) => {
            // A request the origin answered before it was whole must not go back to the agent's pool.
            if (!upstream.writableFinished) upstream.destroy();
            finish(() => (isSuccess(reply.statusCode) ? this.accept(body, resolve, reject) : reject(rejection(reply.statusCode ?? 502, body))));
          },
          (error: Error) => fail(new OriginUnavailableError(this.options.baseUrl, `reading its reply: ${error.message}`)),
        );
      });
      upstream.on('error', (error) => {
        // Once the origin has answered, a write error (it closed after refusing) changes nothing: the answer stands.
        if (!answered) fail(new OriginUnavailableError(this.options.baseUrl, error.message));
      });
      // IncomingMessage emits 'error' only when someone listens; the 'close' handler does the work.
      stream.on('error', () => undefined);
      stream.on('close', onSourceClose);
      stream.on('data', count);
      stream.pipe(upstream);
    });
  }

  private accept(body: Buffer, resolve: (d: ContentDescriptor) => void, reject: (e: Error) => void): void {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      reject(new OriginReplyInvalidError('not JSON'));
      return;
    }
    const parsed = contentDescriptorSchema.safeParse(json);
    if (parsed.success) resolve(parsed.data);
    else reject(new OriginReplyInvalidError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')));
  }
}

function isSuccess(status: number | undefined): boolean {
  return status !== undefined && status >= 200 && status < 300;
}

/** The origin's error body if it sent one in the shared shape; otherwise a generic error with its status. */
function rejection(status: number, body: Buffer): OriginRejectedError {
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(body.toString('utf8')));
    if (parsed.success) return new OriginRejectedError(status, parsed.data.code, parsed.data.message, parsed.data.details);
  } catch {
    // Not JSON: fall through to the generic error.
  }
  const code = status >= 500 ? ErrorCode.Unavailable : ErrorCode.Internal;
  return new OriginRejectedError(status, code, `content origin answered ${status} without an error body`);
}

function readReply(reply: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    reply.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REPLY_BYTES) {
        reply.destroy(new Error(`reply larger than ${MAX_REPLY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    reply.on('end', () => resolve(Buffer.concat(chunks)));
    reply.on('error', reject);
    reply.on('aborted', () => reject(new Error('reply broken off')));
  });
}
