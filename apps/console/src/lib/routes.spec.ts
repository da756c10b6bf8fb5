import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hrefOf, parseRoute, Route, titleOf } from './routes';

test('addresses and pages round-trip', () => {
  const routes: Route[] = [{ page: 'overview' }, { page: 'packages' }, { page: 'tasks' }, { page: 'new-task' }, { page: 'new-task', packageId: 'p-1' }, { page: 'task', id: 'abc_123' }];
  for (const route of routes) {
    const href = new URL(hrefOf(route), 'http://x');
    assert.deepEqual(parseRoute(href.pathname, href.search), route, hrefOf(route));
  }
});

test('the base path alone or with a slash is the overview; anything else unknown is not found', () => {
  assert.deepEqual(parseRoute('/console'), { page: 'overview' });
  assert.deepEqual(parseRoute('/console/'), { page: 'overview' });
  assert.deepEqual(parseRoute('/console/tasks/'), { page: 'tasks' });
  assert.deepEqual(parseRoute('/console/tasks/bad.id'), { page: 'not-found', path: '/tasks/bad.id' });
  assert.deepEqual(parseRoute('/console/tasks/new', '?package=../x'), { page: 'new-task' });
  assert.deepEqual(parseRoute('/console/settings'), { page: 'not-found', path: '/settings' });
  assert.equal(titleOf({ page: 'packages' }), 'Packages · Fleetcast console');
});
