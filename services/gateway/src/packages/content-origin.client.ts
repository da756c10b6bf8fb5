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

/** Request headers of a chunk of a resumable upload that are passed on to the origin. */
const CHUNK_HEADERS = ['content-length', 'upload-offset', 'authorization'] as const;

/** Requests without a body to stream (create, status, delete) are small: an origin slower than this is down. */
const SMALL_REQUEST_TIMEOUT_MS = 10_000;

/** A resumable upload as the origin reports it. */
export const originUploadSchema = z.object({
  id: z.string(),
  size: z.number().int().nonnegative(),
  offset: z.number().int().nonnegative(),
  sha256: z.string().nullable(),
  label: z.string().nullable(),
  createdAt: z.string(),
  expiresAt: z.string(),
  contentId: z.string().nullable(),
});
export type OriginUpload = z.infer<typeof originUploadSchema>;

export type ChunkAnswer = { complete: false; offset: number } | { complete: true; offset: number; descriptor: ContentDescriptor };

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
 * Talks to the content origin: streams a package body (`PUT /v1/content`, or chunk by chunk
 * through a resumable upload, `/v1/uploads`) and returns the origin's descriptor; removes content. The body is piped, never buffered: memory stays flat whatever the package's size,
 * and backpressure from the origin slows the client down. A refusal by the origin becomes an
 * OriginRejectedError with the origin's status; when that refusal comes early, sending stops.
 */
export class ContentOriginClient {
  private readonly uploadUrl: URL;

  constructor(private readonly options: ContentOriginOptions) {
    this.uploadUrl = new URL(`${options.baseUrl}/v1/content`);
  }

  /** A single-request upload (`PUT /v1/content`): the whole body in one go. */
  async upload(source: UploadSource): Promise<ContentDescriptor> {
    const { reply, body } = await this.stream('PUT', this.uploadUrl, source, FORWARDED_HEADERS);
    if (!isSuccess(reply.statusCode)) throw rejection(reply.statusCode ?? 502, body);
    return this.descriptorOf(body);
  }

  /**
   * One chunk of a resumable upload (`PATCH /v1/uploads/{id}`), streamed like `upload`. Answers the
   * new offset while bytes are missing, the descriptor once the last byte is in. A refusal keeps the
   * origin's `Upload-Offset` (where the upload stands) for the client.
   */
  async appendChunk(uploadId: string, source: UploadSource): Promise<ChunkAnswer> {
    const url = new URL(`${this.options.baseUrl}/v1/uploads/${encodeURIComponent(uploadId)}`);
    const { reply, body } = await this.stream('PATCH', url, source, CHUNK_HEADERS);
    const offset = Number(reply.headers['upload-offset']);
    if (!isSuccess(reply.statusCode)) {
      const error = rejection(reply.statusCode ?? 502, body);
      if (Number.isSafeInteger(offset)) error.headers['Upload-Offset'] = String(offset);
      throw error;
    }
    if (!Number.isSafeInteger(offset)) throw new OriginReplyInvalidError('a chunk answer without Upload-Offset');
    if (reply.statusCode === 204) return { complete: false, offset };
    return { complete: true, offset, descriptor: this.descriptorOf(body) };
  }

  /** Creates a resumable upload on the origin. */
  /**
   * Creates a resumable upload on the origin. `caller` (each method below takes it) is the caller's
   * Authorization header, sent on when the gateway has no token of its own, as for `upload`.
   */
  createUpload(declaration: { size: number; sha256?: string; label: string }, caller?: string): Promise<OriginUpload> {
    const headers: Record<string, string> = { 'upload-length': String(declaration.size), 'x-upload-label': declaration.label };
    if (declaration.sha256 !== undefined) headers['x-content-sha256'] = declaration.sha256;
    return this.json('POST', '/v1/uploads', headers, originUploadSchema, caller);
  }

  uploadStatus(uploadId: string, caller?: string): Promise<OriginUpload> {
    return this.json('GET', `/v1/uploads/${encodeURIComponent(uploadId)}`, {}, originUploadSchema, caller);
  }

  async abortUpload(uploadId: string, caller?: string): Promise<void> {
    await this.json('DELETE', `/v1/uploads/${encodeURIComponent(uploadId)}`, {}, null, caller);
  }

  /** Removes stored content; false when the origin did not have it (already removed). */
  async deleteContent(contentId: string, caller?: string): Promise<boolean> {
    try {
      await this.json('DELETE', `/v1/content/${encodeURIComponent(contentId)}`, {}, null, caller);
      return true;
    } catch (error) {
      if (error instanceof OriginRejectedError && error.status === 404) return false;
      throw error;
    }
  }

  /** A small request with no body to stream: its JSON answer parsed with `schema` (null: no body expected). */
  private async json<T>(method: string, path: string, headers: Record<string, string>, schema: z.ZodType<T> | null, caller?: string): Promise<T> {
    const all: Record<string, string> = { ...headers };
    if (this.options.token !== undefined) all.authorization = `Bearer ${this.options.token}`;
    else if (caller !== undefined) all.authorization = caller;
    let res: Response;
    try {
      res = await fetch(`${this.options.baseUrl}${path}`, { method, headers: all, signal: AbortSignal.timeout(SMALL_REQUEST_TIMEOUT_MS) });
    } catch (error) {
      throw new OriginUnavailableError(this.options.baseUrl, (error as Error).message);
    }
    const body = Buffer.from(await res.arrayBuffer());
    if (!res.ok) throw rejection(res.status, body);
    if (schema === null) return undefined as T;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new OriginReplyInvalidError('not JSON');
    }
    const result = schema.safeParse(parsed);
    if (!result.success) throw new OriginReplyInvalidError(result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
    return result.data;
  }

  /**
   * Pipes a client's body to the origin and reads the origin's answer, whatever its status. An
   * early answer (a refusal) stops the sending; a client that breaks off breaks off the request too.
   */
  private stream(method: string, url: URL, source: UploadSource, forwarded: readonly string[]): Promise<{ reply: IncomingMessage; body: Buffer }> {
    const headers: OutgoingHttpHeaders = { 'content-type': 'application/octet-stream' };
    for (const name of forwarded) {
      const value = source.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const upstream = send(url, { method, headers });
    const { stream } = source;

    return new Promise((resolve, reject) => {
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
        // Destroying the request tells the origin the upload is incomplete: it stores nothing (a
        // single-request upload) or keeps what arrived (a chunk of a resumable one).
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
            finish(() => resolve({ reply, body }));
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

  private descriptorOf(body: Buffer): ContentDescriptor {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new OriginReplyInvalidError('not JSON');
    }
    const parsed = contentDescriptorSchema.safeParse(json);
    if (parsed.success) return parsed.data;
    throw new OriginReplyInvalidError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
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
