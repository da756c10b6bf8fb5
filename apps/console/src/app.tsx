import { useEffect, useRef, useState } from 'react';
import type { ApiScope } from '@fleetcast/contracts';
import { ApiClient, ApiError, describeError } from './api/api-client';
import { clearToken, loadToken, saveToken } from './api/session-store';
import { titleOf, type Route } from './lib/routes';
import { canWrite, type Session } from './lib/scopes';
import { Link, useRoute } from './views/navigation';
import { OverviewView } from './views/overview-view';
import { PackagesView } from './views/packages-view';
import { SignInView } from './views/sign-in-view';
import { TaskCreateView } from './views/task-create-view';
import { TaskView } from './views/task-view';
import { TasksView } from './views/tasks-view';

interface Whoami {
  name: string;
  scope: ApiScope;
}

/** Asks the gateway who a token is; an answer means it is valid, and says what it may do. */
async function signIn(token: string): Promise<Session> {
  const me = await new ApiClient(token).get<Whoami>('/v1/whoami');
  return { token, name: me.name, scope: me.scope };
}

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  // A token kept from earlier in this tab is checked again before anything is shown with it.
  const [checking, setChecking] = useState(() => loadToken() !== null);
  const [signInError, setSignInError] = useState<string | null>(null);

  useEffect(() => {
    const kept = loadToken();
    if (!kept) return;
    signIn(kept).then(
      (s) => {
        setSession(s);
        setChecking(false);
      },
      (e: unknown) => {
        clearToken();
        setSignInError(e instanceof ApiError && e.status === 401 ? 'Your session ended: the gateway no longer accepts the token. Sign in again.' : describeError(e));
        setChecking(false);
      },
    );
  }, []);

  const onSignIn = async (token: string) => {
    setSignInError(null);
    try {
      const s = await signIn(token);
      saveToken(token);
      setSession(s);
    } catch (e) {
      setSignInError(e instanceof ApiError && e.status === 401 ? 'The gateway does not accept this token.' : describeError(e));
    }
  };

  const onSignOut = () => {
    clearToken();
    setSession(null);
  };

  const onTokenRefused = () => {
    clearToken();
    setSession(null);
    setSignInError('Your session ended: the gateway no longer accepts the token. Sign in again.');
  };

  if (checking) return <p className="muted page-pad">Checking your session…</p>;
  if (!session) return <SignInView onSignIn={onSignIn} error={signInError} />;
  return <Shell session={session} onSignOut={onSignOut} onTokenRefused={onTokenRefused} />;
}

function Shell({ session, onSignOut, onTokenRefused }: { session: Session; onSignOut(): void; onTokenRefused(): void }) {
  const route = useRoute();
  const api = new ApiClient(session.token, onTokenRefused);
  const writer = canWrite(session.scope);
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);

  useEffect(() => {
    document.title = titleOf(route);
    // After a move to another page, focus goes to its main heading, so a screen reader says where one is.
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [route]);

  const current = (page: Route['page'] | Route['page'][]) => ((Array.isArray(page) ? page : [page]).includes(route.page) ? ('page' as const) : undefined);

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Fleetcast</span>
        <nav aria-label="Main">
          <ul>
            <li>
              <Link to={{ page: 'overview' }} aria-current={current('overview')}>
                Overview
              </Link>
            </li>
            <li>
              <Link to={{ page: 'packages' }} aria-current={current('packages')}>
                Packages
              </Link>
            </li>
            <li>
              <Link to={{ page: 'tasks' }} aria-current={current(['tasks', 'task'])}>
                Tasks
              </Link>
            </li>
            {writer ? (
              <li>
                <Link to={{ page: 'new-task' }} aria-current={current('new-task')}>
                  New task
                </Link>
              </li>
            ) : null}
          </ul>
        </nav>
        <div className="who">
          <span>
            Signed in as <strong>{session.name}</strong> <span className="badge">{session.scope}</span>
          </span>
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <Page route={route} api={api} writer={writer} />
      </main>
    </>
  );
}

function Page({ route, api, writer }: { route: Route; api: ApiClient; writer: boolean }) {
  switch (route.page) {
    case 'overview':
      return <OverviewView api={api} />;
    case 'packages':
      return <PackagesView api={api} writer={writer} />;
    case 'tasks':
      return <TasksView api={api} writer={writer} />;
    case 'new-task':
      return writer ? (
        <TaskCreateView api={api} initialPackageId={route.packageId} />
      ) : (
        <>
          <h1 tabIndex={-1}>New task</h1>
          <p>Your token is read-only: it can look at tasks but not create them.</p>
        </>
      );
    case 'task':
      return <TaskView api={api} taskId={route.id} writer={writer} />;
    case 'not-found':
      return (
        <>
          <h1 tabIndex={-1}>Not found</h1>
          <p>
            The console has no page at <code>{route.path}</code>. <Link to={{ page: 'overview' }}>Go to the overview</Link>.
          </p>
        </>
      );
  }
}
