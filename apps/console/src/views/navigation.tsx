import { type AnchorHTMLAttributes, type MouseEvent, useEffect, useState } from 'react';
import { hrefOf, parseRoute, type Route } from '../lib/routes';

/** Browser history as the console's router: pages are addresses, moves are pushState. */
const listeners = new Set<() => void>();

export function navigate(route: Route): void {
  window.history.pushState(null, '', hrefOf(route));
  for (const listener of listeners) listener();
}

export function useRoute(): Route {
  const read = () => parseRoute(window.location.pathname, window.location.search);
  const [route, setRoute] = useState<Route>(read);
  useEffect(() => {
    const update = () => setRoute(read());
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return route;
}

/** A link to a page of the console: a real `<a href>` (open in a new tab works), routed in place on a plain click. */
export function Link({ to, children, ...rest }: { to: Route } & Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'>) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={hrefOf(to)} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}
