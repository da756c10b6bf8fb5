import { gtr, ltr, satisfies, valid, validRange } from 'semver';
import type { AgentVersionStatus } from '@fleetcast/contracts';

/**
 * A pre-release counts as the version it leads to: an agent 0.3.0-rc.1 is within ">=0.1.0 <1.0.0".
 * Without this, semver admits a pre-release only into a range that names the same version with a
 * pre-release tag, so every test build of the agent would be refused whatever the range.
 */
const SEMVER_OPTIONS = { includePrerelease: true } as const;

/** The range the inventory supports when none is configured: today's agents (0.1.0) up to the next major. */
export const DEFAULT_SUPPORTED_AGENT_VERSIONS = '>=0.1.0 <1.0.0';

/**
 * Why `range` cannot be the supported range of agent versions, or null when it can. Besides what
 * semver refuses, an empty alternative ("" or ">=0.1.0 ||") is refused: semver reads it as "any
 * version", which a typo should not silently configure; write "*" to support every version.
 */
export function supportedRangeProblem(range: string): string | null {
  if (range.split('||').some((alternative) => alternative.trim() === '')) {
    return `"${range}" has an empty alternative, which would admit every version (write "*" for that)`;
  }
  if (validRange(range, SEMVER_OPTIONS) === null) return `"${range}" is not a semver range (like ">=0.1.0 <1.0.0" or "^0.1.0")`;
  return null;
}

/**
 * Whether an agent of `agentVersion` is supported by `range` (a range that passed
 * {@link supportedRangeProblem}). The reason of an unsupported one names the version and the range
 * and says what to do: a version below the range needs a newer agent, one above it a newer control
 * plane (or a wider range), one in a gap of the range another agent version; a version that is not
 * semantic cannot be compared at all and is not supported.
 */
export function agentVersionStatus(agentVersion: string, range: string): AgentVersionStatus {
  if (valid(agentVersion, SEMVER_OPTIONS) === null) {
    return {
      state: 'unsupported-version',
      reason: `agent version ${JSON.stringify(agentVersion)} is not a semantic version, so it cannot be checked against the supported range ${range}; install an agent with a version in that range`,
    };
  }
  if (satisfies(agentVersion, range, SEMVER_OPTIONS)) return { state: 'supported', reason: null };
  const outside = `agent ${agentVersion} is outside the supported range ${range}`;
  if (ltr(agentVersion, range, SEMVER_OPTIONS)) return { state: 'unsupported-version', reason: `${outside}; upgrade the agent` };
  if (gtr(agentVersion, range, SEMVER_OPTIONS)) {
    return { state: 'unsupported-version', reason: `${outside}; it is newer than this control plane supports: upgrade the control plane or widen SUPPORTED_AGENT_VERSIONS` };
  }
  return { state: 'unsupported-version', reason: `${outside}; install an agent with a version in that range` };
}
