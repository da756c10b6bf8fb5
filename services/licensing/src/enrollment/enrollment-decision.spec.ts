import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '@fleetcast/contracts';
import { decideEnrollment, DeviceState, EnrollDecision, TokenState } from './enrollment-decision';

const NOW = new Date('2026-12-01T12:00:00Z');
const KEY = 'UKEY';
const token = (patch: Partial<TokenState> = {}): TokenState => ({ maxUses: 2, uses: 0, expiresAt: new Date('2026-12-02T00:00:00Z'), revokedAt: null, ...patch });
const device = (patch: Partial<DeviceState> = {}): DeviceState => ({ state: 'active', publicKey: KEY, ...patch });

const cases: Array<[string, TokenState | null, DeviceState | null, EnrollDecision['kind'], string?, RegExp?]> = [
  ['new device, valid token', token(), null, 'enroll'],
  ['last use of the token', token({ uses: 1 }), null, 'enroll'],
  ['unknown token', null, null, 'refuse', ErrorCode.EnrollmentTokenInvalid, /unknown/],
  ['revoked token', token({ revokedAt: new Date('2026-11-30T00:00:00Z') }), null, 'refuse', ErrorCode.EnrollmentTokenInvalid, /revoked/],
  ['expired token', token({ expiresAt: NOW }), null, 'refuse', ErrorCode.EnrollmentTokenInvalid, /expired/],
  ['used-up token', token({ uses: 2 }), null, 'refuse', ErrorCode.EnrollmentTokenInvalid, /used up \(2 of 2/],
  ['same device and key again, token used up', token({ uses: 2 }), device(), 'reissue'],
  ['same device and key, token revoked', token({ revokedAt: NOW }), device(), 'refuse', ErrorCode.EnrollmentTokenInvalid],
  ['active device, another key', token(), device({ publicKey: 'UOTHER' }), 'refuse', ErrorCode.DeviceAlreadyEnrolled, /retire it first/],
  ['retired device comes back', token(), device({ state: 'retired' }), 'enroll'],
  ['retired device, token used up', token({ uses: 2 }), device({ state: 'retired' }), 'refuse', ErrorCode.EnrollmentTokenInvalid],
];

for (const [name, t, d, kind, code, message] of cases) {
  test(`enrollment decision: ${name}`, () => {
    const decision = decideEnrollment(t, d, KEY, NOW);
    assert.equal(decision.kind, kind);
    if (decision.kind === 'refuse') {
      assert.equal(decision.code, code);
      if (message) assert.match(decision.message, message);
    }
  });
}
