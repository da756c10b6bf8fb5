import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LanIssueCode, lanIssueSchema } from '@fleetcast/contracts';
import type { SessionIssue } from '@fleetcast/lan-protocol';
import { MAX_ISSUE_MESSAGE_CHARS, lanIssueOf } from './lan-issues';

const names = (senderId: string) => (senderId === 'aa' ? 'device-7' : `with sender ID ${senderId}`);

const ROWS: Array<[SessionIssue, string, RegExp]> = [
  [{ kind: 'no-role', waitedMs: 19_400 }, LanIssueCode.SessionDeadline, /^no representative settled within 19 s .*downloading from the origin$/],
  [{ kind: 'no-representative', reason: 'no-representative' }, LanIssueCode.NoRepresentative, /^no multicast session \(no-representative\): downloading from the origin$/],
  [{ kind: 'nobody-joined', targets: 3, fetchedAlone: false }, LanIssueCode.NobodyJoined, /^none of the 3 other target device\(s\) .*or they are offline$/],
  [{ kind: 'nobody-joined', targets: 3, fetchedAlone: true }, LanIssueCode.NobodyJoined, /offline; this device fetched the package by itself/],
  [{ kind: 'follow-deadline', representativeId: 'aa', blocks: 2, waitedMs: 61_000, peersAllowed: true }, LanIssueCode.SessionDeadline, /^representative device-7 delivered 2 verified block\(s\) here and then none for 61 s: .*from peers, then the origin$/],
  [{ kind: 'follow-deadline', representativeId: 'bb', blocks: 0, waitedMs: 1_000, peersAllowed: false }, LanIssueCode.SessionDeadline, /^representative with sender ID bb .* comes from the origin$/],
  [{ kind: 'session-incomplete', missing: 5, peersAllowed: true }, LanIssueCode.SessionIncomplete, /^the multicast session ended with 5 block\(s\) missing here; they come from peers, then the origin$/],
];

for (const [issue, code, message] of ROWS) {
  test(`lan issue: ${issue.kind} -> ${code}`, () => {
    const got = lanIssueOf(issue, names);
    assert.equal(got.code, code);
    assert.match(got.message, message);
    assert.ok(lanIssueSchema.safeParse(got).success, 'a valid contract issue');
  });
}

test('lan issue: a message is clipped to the contract bound', () => {
  const got = lanIssueOf({ kind: 'no-representative', reason: 'x'.repeat(1_000) }, names);
  assert.equal(got.message.length, MAX_ISSUE_MESSAGE_CHARS);
});
