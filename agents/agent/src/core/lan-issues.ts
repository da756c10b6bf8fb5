import { LanIssue, LanIssueCode } from '@fleetcast/contracts';
import type { SessionIssue } from '@fleetcast/lan-protocol';

/** The contract's bound on an issue message (lanIssueSchema): a longer one would make the report invalid. */
export const MAX_ISSUE_MESSAGE_CHARS = 500;

/**
 * The status report's words for why the LAN session fell short (the session reducer says what
 * happened, this says it to the operator). `deviceName` names a representative by its sender ID.
 */
export function lanIssueOf(issue: SessionIssue, deviceName: (senderId: string) => string): LanIssue {
  const from = (peersAllowed: boolean) => (peersAllowed ? 'peers, then the origin' : 'the origin');
  const [code, message] = ((): [LanIssueCode, string] => {
    switch (issue.kind) {
      case 'no-role':
        return [LanIssueCode.SessionDeadline, `no representative settled within ${Math.round(issue.waitedMs / 1000)} s (claims that never led to a session): downloading from the origin`];
      case 'no-representative':
        return [LanIssueCode.NoRepresentative, `no multicast session (${issue.reason}): downloading from the origin`];
      case 'nobody-joined':
        return [
          LanIssueCode.NobodyJoined,
          `none of the ${issue.targets} other target device(s) of the subnet joined the session within the start delay: multicast may be blocked on this subnet, or they are offline` +
            (issue.fetchedAlone ? '; this device fetched the package by itself (from peers the control plane named, else the origin)' : ''),
        ];
      case 'follow-deadline':
        return [
          LanIssueCode.SessionDeadline,
          `representative ${deviceName(issue.representativeId)} delivered ${issue.blocks} verified block(s) here and then none for ${Math.round(issue.waitedMs / 1000)} s: ` +
            `it is no longer followed, the rest comes from ${from(issue.peersAllowed)}`,
        ];
      case 'session-incomplete':
        return [LanIssueCode.SessionIncomplete, `the multicast session ended with ${issue.missing} block(s) missing here; they come from ${from(issue.peersAllowed)}`];
    }
  })();
  return { code, message: message.slice(0, MAX_ISSUE_MESSAGE_CHARS) };
}
