import { type FormEvent, useState } from 'react';
import { ErrorNote } from './common';

export function SignInView({ onSignIn, error }: { onSignIn(token: string): Promise<void>; error: string | null }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!token.trim()) return;
    setBusy(true);
    await onSignIn(token.trim());
    setBusy(false);
  };
  return (
    <main id="main" className="sign-in">
      <h1>Fleetcast console</h1>
      <form onSubmit={submit} aria-describedby="sign-in-help">
        <p id="sign-in-help">
          Sign in with an API token of this control plane (made with <code>api-token new</code>; <code>npm run demo</code> prints one). The token stays in
          this browser tab only.
        </p>
        <label htmlFor="token">API token</label>
        <input id="token" name="token" type="password" autoComplete="off" spellCheck={false} required value={token} onChange={(e) => setToken(e.target.value)} />
        <button type="submit" disabled={busy || !token.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <ErrorNote message={error} />
      </form>
    </main>
  );
}
