/**
 * Calls to the gateway's API on the console's own origin (`/v1/...`), with the signed-in token.
 * Errors come back in the API's one format, `{ code, message }`, and are thrown as ApiError.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** What the page shows: the stable code and the API's message. */
  describe(): string {
    return `${this.code}: ${this.message}`;
  }
}

export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.describe();
  return error instanceof Error ? error.message : String(error);
}

/** Reads an answer's error body; a body that is not the API's format still gives a message. */
export function apiErrorOf(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof body.code === 'string' && typeof body.message === 'string') return new ApiError(status, body.code, body.message);
  } catch {
    // not JSON: said below
  }
  return new ApiError(status, `HTTP.${status}`, text.slice(0, 200) || `the gateway answered ${status}`);
}

export class ApiClient {
  constructor(readonly token: string) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    } catch (error) {
      throw new ApiError(0, 'NETWORK', `the gateway did not answer (${error instanceof Error ? error.message : String(error)})`);
    }
    const text = await res.text();
    if (!res.ok) throw apiErrorOf(res.status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }
}
