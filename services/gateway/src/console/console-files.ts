import { posix } from 'node:path';

/**
 * What the gateway answers for the web console's files: pure decisions (which file, which headers),
 * kept apart from Express so that they can be tested without a server.
 */

/** The path the console is served under; its build is made with the same base (`apps/console/vite.config.mjs`). */
export const CONSOLE_PATH = '/console';

/**
 * The console's Content-Security-Policy: its own scripts, styles and API (same origin) and nothing
 * else; no inline script or style element (React sets styles through the DOM, which CSP allows),
 * no plugins, no framing (clickjacking), forms and `<base>` only to itself. `data:` images for the
 * favicon, which is inlined.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers of every console answer, file or fallback. */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONSOLE_CSP,
  'X-Content-Type-Options': 'nosniff',
  // The API token lives in the page; no URL of it needs to travel to other sites.
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/**
 * Vite names what it builds into `assets/` after the content's hash: such a file never changes, so
 * a browser may keep it a year without asking again. Everything else (`index.html` above all, which
 * names the current assets) is revalidated on every load, so that a new build is seen at once.
 */
export const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable';
export const REVALIDATE_CACHE = 'no-cache';

/** The Cache-Control of a console file, by its path relative to the console's directory. */
export function cacheControlOf(relativePath: string): string {
  const normal = posix.normalize(relativePath.replace(/^\/+/, ''));
  return normal.startsWith('assets/') ? IMMUTABLE_CACHE : REVALIDATE_CACHE;
}

/**
 * Whether a request the static files did not answer gets the application's `index.html` (the SPA
 * fallback: `/console/tasks/abc` is a page of the application, routed in the browser), or a 404.
 * Only page loads fall back: a GET or HEAD of a path without a file extension. A missing
 * `/console/assets/x.js` is a 404, never HTML that a browser would try to run as a script.
 */
export function fallsBackToIndex(method: string, pathInConsole: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const last = pathInConsole.split('/').pop() ?? '';
  return !last.includes('.') && !pathInConsole.startsWith('/assets/');
}

/** The message of the 404 a gateway without a built console answers at `/console`. */
export const CONSOLE_NOT_BUILT_MESSAGE =
  'the web console is not built on this gateway: build it with `npm run build` (workspace apps/console), or point CONSOLE_DIR at a built console';
