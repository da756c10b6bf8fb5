/**
 * The signed-in token, kept in sessionStorage: it lasts as long as the browser tab and is never
 * written to disk by the console or sent anywhere but the API of the console's own origin.
 */
const KEY = 'fleetcast.console.token';

export function loadToken(): string | null {
  try {
    return window.sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function saveToken(token: string): void {
  window.sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  window.sessionStorage.removeItem(KEY);
}
