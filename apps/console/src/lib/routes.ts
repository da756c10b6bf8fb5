/**
 * The console's pages and their addresses under the path the gateway serves it at. The gateway
 * answers any page's address with the application (SPA fallback), which reads the page from it.
 */
export const BASE_PATH = '/console';

export type Route =
  | { page: 'overview' }
  | { page: 'packages' }
  | { page: 'tasks' }
  | { page: 'new-task'; packageId?: string }
  | { page: 'task'; id: string }
  | { page: 'not-found'; path: string };

const ID = /^[A-Za-z0-9_-]{1,64}$/;

export function parseRoute(pathname: string, search = ''): Route {
  const inner = pathname.startsWith(BASE_PATH) ? pathname.slice(BASE_PATH.length) : pathname;
  const parts = inner.split('/').filter((p) => p.length > 0);
  if (parts.length === 0) return { page: 'overview' };
  if (parts.length === 1 && parts[0] === 'packages') return { page: 'packages' };
  if (parts.length === 1 && parts[0] === 'tasks') return { page: 'tasks' };
  if (parts.length === 2 && parts[0] === 'tasks' && parts[1] === 'new') {
    const packageId = new URLSearchParams(search).get('package');
    return packageId && ID.test(packageId) ? { page: 'new-task', packageId } : { page: 'new-task' };
  }
  if (parts.length === 2 && parts[0] === 'tasks' && ID.test(parts[1]!)) return { page: 'task', id: parts[1]! };
  return { page: 'not-found', path: inner };
}

export function hrefOf(route: Route): string {
  switch (route.page) {
    case 'overview':
      return `${BASE_PATH}/`;
    case 'packages':
      return `${BASE_PATH}/packages`;
    case 'tasks':
      return `${BASE_PATH}/tasks`;
    case 'new-task':
      return `${BASE_PATH}/tasks/new${route.packageId ? `?package=${encodeURIComponent(route.packageId)}` : ''}`;
    case 'task':
      return `${BASE_PATH}/tasks/${encodeURIComponent(route.id)}`;
    case 'not-found':
      return `${BASE_PATH}${route.path}`;
  }
}

/** The document title of a page, so that tabs and screen readers say where one is. */
export function titleOf(route: Route): string {
  const page = { overview: 'Fleet overview', packages: 'Packages', tasks: 'Tasks', 'new-task': 'New task', task: 'Task', 'not-found': 'Not found' }[route.page];
  return `${page} · Fleetcast console`;
}
