import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressRefusal, parseAllowedNetworks } from './address-policy';

test('address policy: private, loopback, link-local, metadata and other non-public addresses are refused with their kind', () => {
  const none = parseAllowedNetworks('');
  const table: Array<[string, RegExp | null]> = [
    ['127.0.0.1', /loopback/],
    ['::1', /loopback/],
    ['10.1.2.3', /private/],
    ['172.16.0.1', /private/],
    ['192.168.1.1', /private/],
    ['fd12::1', /private/],
    ['169.254.169.254', /metadata/],
    ['169.254.1.1', /link-local/],
    ['fe80::1', /link-local/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['0.0.0.0', /unspecified/],
    ['224.0.0.1', /multicast/],
    ['::ffff:127.0.0.1', /loopback/],
    ['::ffff:10.0.0.1', /private/],
    ['not-an-ip', /not an IP address/],
    ['93.184.216.34', null],
    ['2606:4700::1111', null],
  ];
  for (const [address, refusal] of table) {
    const reason = addressRefusal(address, none);
    if (refusal === null) assert.equal(reason, null, address);
    else assert.match(reason ?? '', refusal, address);
  }
});

test('address policy: an allowed network lets its addresses through, and only them', () => {
  const allowed = parseAllowedNetworks('127.0.0.0/8, 10.9.0.0/16');
  assert.equal(addressRefusal('127.0.0.1', allowed), null);
  assert.equal(addressRefusal('::ffff:127.0.0.1', allowed), null);
  assert.equal(addressRefusal('10.9.1.1', allowed), null);
  assert.match(addressRefusal('10.8.1.1', allowed) ?? '', /private/);
  assert.match(addressRefusal('::1', allowed) ?? '', /loopback/, 'IPv6 loopback is not in an IPv4 range');
  assert.throws(() => parseAllowedNetworks('127.0.0.1'), /not a CIDR/);
});
