import { apiErrorOf, ApiError } from '../lib/api-error';

/**
 * Calls to the gateway's API on the console's own origin (`/v1/...`), with the signed-in token.
 * Errors come back in the API's one format, `{ code, message }`, and are thrown as ApiError.
 */
export { apiErrorOf, ApiError, describeError } from '../lib/api-error';

export class ApiClient {
  /** `onUnauthorized`: the gateway no longer accepts the token (revoked, or the gateway's tokens changed). */
  constructor(
    readonly token: string,
    private readonly onUnauthorized?: () => void,
  ) {}

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
    if (res.status === 401) this.onUnauthorized?.();
    if (!res.ok) throw apiErrorOf(res.status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }
}
