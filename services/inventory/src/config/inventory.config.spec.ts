import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { loadInventoryConfig } from './inventory.config';

describe('loadInventoryConfig: SUPPORTED_AGENT_VERSIONS', () => {
  const accepted: Array<[string | undefined, string]> = [
    [undefined, '>=0.1.0 <1.0.0'],
    ['^0.2.0', '^0.2.0'],
    ['  >=0.1.0 <2.0.0  ', '>=0.1.0 <2.0.0'],
    ['*', '*'],
  ];
  for (const [given, expected] of accepted) {
    it(`${JSON.stringify(given)} -> ${expected}`, () => {
      const env = given === undefined ? {} : { SUPPORTED_AGENT_VERSIONS: given };
      assert.equal(loadInventoryConfig(env).SUPPORTED_AGENT_VERSIONS, expected);
    });
  }

  const refused: Array<[string, RegExp]> = [
    ['newest', /SUPPORTED_AGENT_VERSIONS: "newest" is not a semver range/],
    ['', /SUPPORTED_AGENT_VERSIONS: "" has an empty alternative/],
    ['>=0.1.0 || ', /SUPPORTED_AGENT_VERSIONS: ">=0.1.0 \|\|" has an empty alternative/],
  ];
  for (const [given, message] of refused) {
    it(`${JSON.stringify(given)} stops the start with a configuration error naming the variable`, () => {
      assert.throws(
        () => loadInventoryConfig({ SUPPORTED_AGENT_VERSIONS: given }),
        (error: Error & { code?: string }) => error.code === 'CONFIG.INVALID' && message.test(error.message),
      );
    });
  }
});
