import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandsFilterFor, jwtOfCreds, subscribeAllowList } from './command-filter';

const jwtWith = (claims: unknown) => `eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;

test('the wider filter when the user may subscribe to it, or with no credentials or limits', () => {
  const now = jwtWith({ nats: { sub: { allow: ['tasks.cmd.device.*.*.dev-1', 'tasks.cmd.device.assign.*.dev-1'] } } });
  assert.deepEqual(commandsFilterFor(now, 'dev-1'), { filter: 'tasks.cmd.device.*.*.dev-1', cancellations: true });
  assert.deepEqual(commandsFilterFor(null, 'dev-1'), { filter: 'tasks.cmd.device.*.*.dev-1', cancellations: true });
  assert.deepEqual(commandsFilterFor(jwtWith({ nats: {} }), 'dev-1').cancellations, true);
});

test('a device enrolled before cancellations keeps its assignments-only filter', () => {
  const before = jwtWith({ nats: { sub: { allow: ['tasks.cmd.device.assign.*.dev-1', '_INBOX.device.dev-1.>'] } } });
  assert.deepEqual(commandsFilterFor(before, 'dev-1'), { filter: 'tasks.cmd.device.assign.*.dev-1', cancellations: false });
});

test('claims are read, not trusted: unreadable ones give no list', () => {
  assert.equal(subscribeAllowList('not-a-jwt'), null);
  assert.equal(subscribeAllowList('a.%%%.c'), null);
  assert.equal(subscribeAllowList(jwtWith({ nats: { sub: { allow: [1] } } })), null);
  assert.deepEqual(subscribeAllowList(jwtWith({ nats: { sub: { allow: ['x'] } } })), ['x']);
});

test('the JWT of a creds file', () => {
  const creds = '-----BEGIN NATS USER JWT-----\neyJ.abc.def\n------END NATS USER JWT------\n\n************************* IMPORTANT *************************\n-----BEGIN USER NKEY SEED-----\nSUAXXX\n------END USER NKEY SEED------\n';
  assert.equal(jwtOfCreds(creds), 'eyJ.abc.def');
  assert.equal(jwtOfCreds('nothing here'), null);
});
