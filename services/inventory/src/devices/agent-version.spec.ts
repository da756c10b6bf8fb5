import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { AgentVersionStatus } from '@fleetcast/contracts';
import { agentVersionStatus, DEFAULT_SUPPORTED_AGENT_VERSIONS, supportedRangeProblem } from './agent-version';

describe('agentVersionStatus', () => {
  const range = '>=0.1.0 <1.0.0';
  const supported: AgentVersionStatus = { state: 'supported', reason: null };
  const unsupported = (reason: string): AgentVersionStatus => ({ state: 'unsupported-version', reason });
  const cases: Array<{ name: string; version: string; range?: string; expected: AgentVersionStatus }> = [
    { name: "today's agent", version: '0.1.0', expected: supported },
    { name: 'a later minor', version: '0.9.12', expected: supported },
    { name: 'a leading v, as some builds print it', version: 'v0.2.0', expected: supported },
    { name: 'a pre-release of a version in the range', version: '0.3.0-rc.1', expected: supported },
    { name: 'build metadata', version: '0.2.0+linux.amd64', expected: supported },
    { name: 'below the range', version: '0.0.9', expected: unsupported('agent 0.0.9 is outside the supported range >=0.1.0 <1.0.0; upgrade the agent') },
    {
      name: 'a pre-release of the lower bound itself',
      version: '0.1.0-beta.2',
      expected: unsupported('agent 0.1.0-beta.2 is outside the supported range >=0.1.0 <1.0.0; upgrade the agent'),
    },
    {
      name: 'above the range',
      version: '1.0.0',
      expected: unsupported(
        'agent 1.0.0 is outside the supported range >=0.1.0 <1.0.0; it is newer than this control plane supports: upgrade the control plane or widen SUPPORTED_AGENT_VERSIONS',
      ),
    },
    {
      name: 'in a gap between two alternatives',
      version: '0.3.0',
      range: '<0.2.0 || >0.5.0',
      expected: unsupported('agent 0.3.0 is outside the supported range <0.2.0 || >0.5.0; install an agent with a version in that range'),
    },
    { name: 'a caret range', version: '0.1.7', range: '^0.1.0', expected: supported },
    { name: 'every version', version: '7.0.0', range: '*', expected: supported },
    {
      name: 'an unparseable version',
      version: 'dev-build',
      expected: unsupported(
        'agent version "dev-build" is not a semantic version, so it cannot be checked against the supported range >=0.1.0 <1.0.0; install an agent with a version in that range',
      ),
    },
    {
      name: 'a version with a part missing',
      version: '0.1',
      expected: unsupported(
        'agent version "0.1" is not a semantic version, so it cannot be checked against the supported range >=0.1.0 <1.0.0; install an agent with a version in that range',
      ),
    },
    {
      name: 'an empty version, even under "*"',
      version: '',
      range: '*',
      expected: unsupported('agent version "" is not a semantic version, so it cannot be checked against the supported range *; install an agent with a version in that range'),
    },
  ];
  for (const { name, version, range: given, expected } of cases) {
    it(`${name}: ${JSON.stringify(version)} in ${given ?? range} -> ${expected.state}`, () => {
      assert.deepEqual(agentVersionStatus(version, given ?? range), expected);
    });
  }
});

describe('supportedRangeProblem', () => {
  const cases: Array<[string, RegExp | null]> = [
    [DEFAULT_SUPPORTED_AGENT_VERSIONS, null],
    ['^0.1.0', null],
    ['0.1.x || >=0.3.0 <0.4.0-0', null],
    ['*', null],
    ['latest', /"latest" is not a semver range/],
    ['>=zero', /is not a semver range/],
    ['', /empty alternative/],
    ['>=0.1.0 ||', /empty alternative, which would admit every version/],
    ['|| <1.0.0', /empty alternative/],
  ];
  for (const [range, expected] of cases) {
    it(`${JSON.stringify(range)} -> ${expected ? 'refused' : 'accepted'}`, () => {
      const problem = supportedRangeProblem(range);
      if (expected === null) assert.equal(problem, null);
      else assert.match(problem ?? '(accepted)', expected);
    });
  }
});
