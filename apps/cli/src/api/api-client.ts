import { ApiError, UnreachableError } from '../errors';
import { ServerSentEvent, SseParser } from './sse-parser';
import { httpStreamRequest, StreamAnswer, StreamRequest } from './stream-request';

/** A request that has no answer this long is given up: the gateway answers reads in milliseconds. */
export const REQUEST_TIMEOUT_MS = 30_000;

export type QueryValue = string | number | boolean | undefined;

export interface UploadBody {
  /** The bytes, read as they are sent (never held whole). */
  chunks: AsyncIterable<Uint8Array>;
  size: number;
  /** SHA-256 of the bytes, hex: the origin checks it and stores nothing on a mismatch. */
  sha256: string;
}

/**
 * The CLI's only HTTP code: the public API of a gateway, with a bearer token. A refusal becomes an
 * ApiError with the API's code and message; no answer at all becomes an UnreachableError.
 */
export class FleetcastApi {
  constructor(
    readonly server: string,
    private readonly token: string,
    private readonly fetchImpl: typeof fetch = fetch,
    private readonly timeoutMs = REQUEST_TIMEOUT_MS,
    /** How uploads are streamed: Node's http client (flat memory), or a fetch in tests. */
    private readonly streamImpl: StreamRequest = httpStreamRequest,
  ) {}

  get<T>(path: string, query: Record<string, QueryValue> = {}): Promise<T> {
    return this.send<T>('GET', `${path}${queryString(query)}`);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>('POST', path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  }

  delete<T>(path: string): Promise<T> {
    return this.send<T>('DELETE', path);
  }

  /**
   * Sends bytes of a resumable upload from `offset` (`PATCH /v1/uploads/{id}`): the new offset while
   * bytes are missing, the answer's body once the last is in. A refusal is an ApiError; a 409 for a
   * wrong offset carries the server's offset in `uploadOffset`. No timeout, like `uploadContent`.
   */
  async uploadChunk<T>(uploadId: string, offset: number, body: { chunks: AsyncIterable<Uint8Array>; length: number }): Promise<{ complete: false; offset: number } | { complete: true; result: T }> {
    const path = `/v1/uploads/${encodeURIComponent(uploadId)}`;
    const res = await this.stream('PATCH', path, body.chunks, {
      'content-type': 'application/offset+octet-stream',
      'content-length': String(body.length),
      'upload-offset': String(offset),
    });
    const text = res.text;
    const serverOffset = Number(res.header('upload-offset') ?? NaN);
    if (res.status < 200 || res.status >= 300) {
      const error = apiErrorOf(res.status, text);
      if (Number.isSafeInteger(serverOffset)) error.uploadOffset = serverOffset;
      throw error;
    }
    if (res.status === 204) {
      if (!Number.isSafeInteger(serverOffset)) throw new ApiError('CLI.BAD_RESPONSE', `PATCH ${path}: the server answered 204 without Upload-Offset`, res.status);
      return { complete: false, offset: serverOffset };
    }
    try {
      return { complete: true, result: JSON.parse(text) as T };
    } catch {
      throw new ApiError('CLI.BAD_RESPONSE', `PATCH ${path}: the server answered ${res.status} with something other than JSON`, res.status);
    }
  }

  /**
   * Opens a server-sent event stream (`GET /v1/tasks/{id}/events`) and yields its events until the
   * server ends it or `signal` aborts. Null when the server does not offer it (an older gateway:
   * no such route, or an answer that is no event stream); a refusal of the request is an ApiError.
   */
  async events(path: string, signal: AbortSignal): Promise<AsyncIterable<ServerSentEvent> | null> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.server}${path}`, { method: 'GET', headers: { accept: 'text/event-stream', authorization: `Bearer ${this.token}` }, signal });
    } catch (error) {
      throw unreachable(this.server, error, this.timeoutMs);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      const error = apiErrorOf(res.status, text);
      // A gateway without the route answers COMMON.NOT_FOUND; an unknown task is TASKS.TASK_NOT_FOUND.
      if (res.status === 404 && (error.code === 'COMMON.NOT_FOUND' || error.code === 'HTTP.404')) return null;
      throw error;
    }
    if (!/^text\/event-stream/.test(res.headers.get('content-type') ?? '') || res.body === null) {
      await res.body?.cancel().catch(() => undefined);
      return null;
    }
    const body = res.body;
    return (async function* () {
      const parser = new SseParser();
      const decoder = new TextDecoder();
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) yield* parser.push(decoder.decode(chunk, { stream: true }));
    })();
  }

  /** Streams a package's content (`PUT /v1/packages/{id}/content`); no timeout, an upload takes what it takes. */
  async uploadContent<T>(packageId: string, upload: UploadBody): Promise<T> {
    const path = `/v1/packages/${encodeURIComponent(packageId)}/content`;
    const res = await this.stream('PUT', path, upload.chunks, { 'content-type': 'application/octet-stream', 'content-length': String(upload.size), 'x-content-sha256': upload.sha256 });
    if (res.status < 200 || res.status >= 300) throw apiErrorOf(res.status, res.text);
    try {
      return JSON.parse(res.text) as T;
    } catch {
      throw new ApiError('CLI.BAD_RESPONSE', `PUT ${path}: the server answered ${res.status} with something other than JSON`, res.status);
    }
  }

  /** A streamed request (no timeout: an upload takes what it takes); no answer at all is an UnreachableError. */
  private async stream(method: string, path: string, body: AsyncIterable<Uint8Array>, headers: Record<string, string>): Promise<StreamAnswer> {
    try {
      return await this.streamImpl(`${this.server}${path}`, { method, headers: { accept: 'application/json', authorization: `Bearer ${this.token}`, ...headers }, body });
    } catch (error) {
      throw unreachable(this.server, error, this.timeoutMs);
    }
  }

  private async send<T>(method: string, path: string, init: { body?: RequestInit['body']; headers?: Record<string, string> } = {}, timeout = true): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.server}${path}`, {
        method,
        headers: { accept: 'application/json', authorization: `Bearer ${this.token}`, ...init.headers },
        body: init.body,
        // A streamed body is sent as it is read (Node's fetch requires saying so).
        ...(init.body !== undefined && typeof init.body !== 'string' ? { duplex: 'half' } : {}),
        signal: timeout ? AbortSignal.timeout(this.timeoutMs) : undefined,
      } as RequestInit);
    } catch (error) {
      throw unreachable(this.server, error, this.timeoutMs);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (error) {
      throw unreachable(this.server, error, this.timeoutMs);
    }
    if (!res.ok) throw apiErrorOf(res.status, text);
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError('CLI.BAD_RESPONSE', `${method} ${path}: the server answered ${res.status} with something other than JSON; is ${this.server} a Fleetcast gateway?`, res.status);
    }
  }
}

/** `?a=1&b=x` from the defined values, or nothing. */
export function queryString(query: Record<string, QueryValue>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** The API's error body (`{ code, message, details? }`), or the status when the body is not one. */
export function apiErrorOf(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown; details?: unknown };
    if (typeof body.code === 'string' && typeof body.message === 'string') return new ApiError(body.code, body.message, status, body.details);
  } catch {
    // Not JSON: a proxy's page, say. Named by its status below.
  }
  const excerpt = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return new ApiError(`HTTP.${status}`, `the server answered ${status}${excerpt ? `: ${excerpt}` : ''}`, status);
}

/** What the system said when no answer came: refused, no such host, timed out. */
function unreachable(server: string, error: unknown, timeoutMs: number): UnreachableError {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return new UnreachableError(`no answer from ${server} within ${timeoutMs / 1000} s`);
  const cause = e?.cause?.code ?? e?.cause?.message ?? (e as NodeJS.ErrnoException)?.code ?? e?.message ?? String(error);
  return new UnreachableError(`cannot reach ${server}: ${cause}`);
}
