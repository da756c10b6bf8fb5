/**
 * The API's one error format, `{ code, message }`, as the console reads it from an answer: an
 * ApiError with the status, the stable code and the API's message.
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

/** Reads an answer's error body; a body that is not the API's format (a proxy's page) still gives a message. */
export function apiErrorOf(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof body.code === 'string' && typeof body.message === 'string') return new ApiError(status, body.code, body.message);
  } catch {
    // not JSON: said below
  }
  return new ApiError(status, `HTTP.${status}`, text.slice(0, 200) || `the gateway answered ${status}`);
}
