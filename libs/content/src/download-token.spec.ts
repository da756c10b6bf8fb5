import assert from 'node:assert/strict';
import { test } from 'node:test';
import { issueDownloadToken, verifyDownloadToken } from './download-token';

const SECRET = Buffer.alloc(32, 7);
const CONTENT = 'a'.repeat(64);
const NOW = new Date('2026-12-01T12:00:00Z');
const token = issueDownloadToken(SECRET, { deviceId: 'dev-1', contentId: CONTENT, expiresAt: new Date(NOW.getTime() + 3600_000) });

test('download token: golden form, and it verifies for its device and content', () => {
  assert.match(token, /^fcd1\.dev-1\.a{64}\.1796130000\.[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(verifyDownloadToken(SECRET, token, CONTENT, NOW), { ok: true, deviceId: 'dev-1', expiresAt: new Date('2026-12-01T13:00:00Z') });
});

const refused: Array<[string, string, string, Date, RegExp]> = [
  ['another secret', token, CONTENT, NOW, /bad signature/],
  ['another device named in it', token.replace('.dev-1.', '.dev-2.'), CONTENT, NOW, /bad signature/],
  ['a later expiry written in', token.replace('.1796130000.', '.1896130000.'), CONTENT, NOW, /bad signature/],
  ['another content', token, 'b'.repeat(64), NOW, /for content aaaaaaaaaaaaaaaa\.\.\., not this one/],
  ['expired', token, CONTENT, new Date('2026-12-01T13:00:00Z'), /expired at 2026-12-01T13:00:00.000Z/],
  ['garbage', 'Bearer x', CONTENT, NOW, /not a download token/],
  ['a truncated signature', token.slice(0, -2), CONTENT, NOW, /bad signature/],
];

for (const [name, t, content, now, reason] of refused) {
  test(`download token refused: ${name}`, () => {
    const result = verifyDownloadToken(name === 'another secret' ? Buffer.alloc(32, 8) : SECRET, t, content, now);
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.reason, reason);
  });
}

test('download token: a short secret is refused outright', () => {
  assert.throws(() => issueDownloadToken(Buffer.alloc(16), { deviceId: 'd', contentId: CONTENT, expiresAt: NOW }), RangeError);
});
