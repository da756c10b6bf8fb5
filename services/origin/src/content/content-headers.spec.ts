import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, FleetcastError } from '@fleetcast/contracts';
import { declaredSizeOf, parseRequester, parseUploadDeclaration } from './content-headers';

const hash = 'ab'.repeat(32);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof FleetcastError, String(error));
    return error.code;
  }
  return 'no error';
}

test('upload declaration: hash and sizes from the headers', () => {
  assert.deepEqual(parseUploadDeclaration({}), {});
  assert.deepEqual(parseUploadDeclaration({ 'x-content-sha256': hash.toUpperCase() }), { sha256: hash });
  assert.deepEqual(parseUploadDeclaration({ 'content-length': '10' }), { contentLength: 10 });
  assert.deepEqual(parseUploadDeclaration({ 'x-content-size': '0' }), { size: 0 });
  assert.deepEqual(parseUploadDeclaration({ 'content-length': '7', 'x-content-size': '8' }), { contentLength: 7, size: 8 });
});

test('upload declaration: malformed headers are a 400 naming the header', () => {
  const table: Array<[Record<string, string | string[]>, RegExp]> = [
    [{ 'x-content-sha256': 'abc' }, /x-content-sha256/],
    [{ 'x-content-sha256': 'zz'.repeat(32) }, /x-content-sha256/],
    [{ 'x-content-size': '-1' }, /x-content-size/],
    [{ 'x-content-size': '1e3' }, /x-content-size/],
    [{ 'x-content-size': '99999999999999999999' }, /x-content-size/],
    [{ 'x-content-size': ['1', '2'] }, /more than once/],
  ];
  for (const [headers, message] of table) {
    assert.equal(codeOf(() => parseUploadDeclaration(headers)), ErrorCode.ContractInvalid, JSON.stringify(headers));
    assert.throws(() => parseUploadDeclaration(headers), message);
  }
});

test('declared size: either header, both when they agree, a size mismatch when they do not', () => {
  assert.equal(declaredSizeOf({}), undefined);
  assert.equal(declaredSizeOf({ contentLength: 5 }), 5);
  assert.equal(declaredSizeOf({ size: 6 }), 6);
  assert.equal(declaredSizeOf({ contentLength: 7, size: 7 }), 7);
  assert.equal(codeOf(() => declaredSizeOf({ contentLength: 5, size: 6 })), ErrorCode.SizeMismatch);
});

test('requester: device and subnet labels, "unknown" when absent, refused when malformed', () => {
  assert.deepEqual(parseRequester({}), { device: 'unknown', subnet: 'unknown' });
  assert.deepEqual(parseRequester({ 'x-fleetcast-device': 'dev-1', 'x-fleetcast-subnet': '10.1.2.0/24' }), { device: 'dev-1', subnet: '10.1.2.0/24' });
  assert.deepEqual(parseRequester({ 'x-fleetcast-subnet': 'FD00::/64' }), { device: 'unknown', subnet: 'fd00::/64' });
  for (const headers of [
    { 'x-fleetcast-device': 'a.b' },
    { 'x-fleetcast-device': 'x'.repeat(65) },
    { 'x-fleetcast-subnet': '10.1.2.0' },
    { 'x-fleetcast-subnet': '10.1.2.0/33' },
    { 'x-fleetcast-subnet': '10.1.2/24' },
    { 'x-fleetcast-subnet': 'fd00::/129' },
    { 'x-fleetcast-subnet': 'evil"} 1\n' },
  ]) {
    assert.equal(codeOf(() => parseRequester(headers)), ErrorCode.ContractInvalid, JSON.stringify(headers));
  }
});
