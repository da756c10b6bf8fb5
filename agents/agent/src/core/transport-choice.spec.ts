import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeviceOfficePolicy, OfficeType } from '@fleetcast/contracts';
import { officePolicy } from '@fleetcast/contracts';
import { chooseTransport, type TransportInput } from './transport-choice';

const office = (type: OfficeType): DeviceOfficePolicy => ({
  deviceId: 'd-1',
  topologyVersion: 1,
  office: { id: `o-${type}`, name: type, type },
  placed: true,
  policy: officePolicy(type),
  wanBandwidthKbps: 20_000,
  bottleneckKbps: 20_000,
});
const on = { multicastEnabled: true, peersEnabled: true };
const both = { useMulticast: true, peerDownloadAllowed: true };
const peersOnly = { useMulticast: false, peerDownloadAllowed: true };
const neither = { useMulticast: false, peerDownloadAllowed: false };

describe('chooseTransport', () => {
  const cases: Array<[string, TransportInput, string, RegExp?]> = [
    ['default office, multicast asked', { ...on, settings: both, office: office('default') }, 'multicast'],
    ['default office, peers only', { ...on, settings: peersOnly, office: office('default') }, 'swarm'],
    ['default office, multicast off on the agent: the swarm', { ...on, multicastEnabled: false, settings: both, office: office('default') }, 'swarm'],
    ['wifi office, multicast asked: the swarm (no multicast on the air)', { ...on, settings: both, office: office('wifi') }, 'swarm'],
    ['wifi office, no peers allowed', { ...on, settings: { useMulticast: true, peerDownloadAllowed: false }, office: office('wifi') }, 'origin', /takes no part in multicast/],
    ['vpn office, whatever is asked', { ...on, settings: both, office: office('vpn') }, 'origin', /vpn office/],
    ['no topology, multicast asked: multicast as before offices', { ...on, settings: both, office: null }, 'multicast'],
    ['no topology, peers only: no swarm', { ...on, settings: peersOnly, office: null }, 'origin', /no topology/],
    ['the task allows neither', { ...on, settings: neither, office: office('default') }, 'origin', /neither multicast nor peer/],
    ['peers off on the agent', { ...on, peersEnabled: false, settings: peersOnly, office: office('default') }, 'origin', /peer downloads are off/],
    ['an unplaced device (in the default office by policy only): no swarm', { ...on, settings: peersOnly, office: { ...office('wifi'), placed: false } }, 'origin', /unplaced/],
    ['an unplaced device in a default office, multicast asked: multicast as before', { ...on, settings: both, office: { ...office('default'), placed: false } }, 'multicast'],
  ];
  for (const [what, input, kind, reason] of cases) {
    test(what, () => {
      const choice = chooseTransport(input);
      assert.equal(choice.kind, kind);
      if (reason) assert.match((choice as { reason: string }).reason, reason);
    });
  }
});
