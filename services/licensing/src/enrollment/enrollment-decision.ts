import { ErrorCode } from '@fleetcast/contracts';

/** What the decision needs of an enrollment token. */
export interface TokenState {
  maxUses: number;
  uses: number;
  expiresAt: Date;
  revokedAt: Date | null;
}

/** What the decision needs of the device's enrollment, if it has one. */
export interface DeviceState {
  state: 'active' | 'retired';
  publicKey: string;
}

export type EnrollDecision =
  | { kind: 'refuse'; code: string; message: string }
  /** The same device with the same key asks again (its answer was lost): new JWT, no use of the token, no new seat. */
  | { kind: 'reissue' }
  /** A new device, or a retired one coming back: takes a use of the token and a seat. */
  | { kind: 'enroll' };

/**
 * Whether a device may enroll with a token. Pure: time is a parameter. A token that is unknown,
 * revoked or expired refuses everything; a used-up one still lets a device that enrolled with this
 * very key get its JWT again (useless to anyone without the key's secret half).
 */
export function decideEnrollment(token: TokenState | null, device: DeviceState | null, publicKey: string, now: Date): EnrollDecision {
  const refuse = (code: string, message: string): EnrollDecision => ({ kind: 'refuse', code, message });
  if (token === null) return refuse(ErrorCode.EnrollmentTokenInvalid, 'unknown enrollment token');
  if (token.revokedAt !== null) return refuse(ErrorCode.EnrollmentTokenInvalid, `the enrollment token was revoked at ${token.revokedAt.toISOString()}`);
  if (token.expiresAt.getTime() <= now.getTime()) return refuse(ErrorCode.EnrollmentTokenInvalid, `the enrollment token expired at ${token.expiresAt.toISOString()}`);
  if (device?.state === 'active') {
    if (device.publicKey === publicKey) return { kind: 'reissue' };
    return refuse(ErrorCode.DeviceAlreadyEnrolled, 'this device ID is enrolled with another key; retire it first to enroll it again');
  }
  if (token.uses >= token.maxUses) return refuse(ErrorCode.EnrollmentTokenInvalid, `the enrollment token is used up (${token.uses} of ${token.maxUses} uses)`);
  return { kind: 'enroll' };
}
