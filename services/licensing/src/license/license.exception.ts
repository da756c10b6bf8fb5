import { ErrorCode, FleetcastError } from '@fleetcast/contracts';
import type { LicenseRejection } from './license-key';

/**
 * A license key refused at installation: LICENSING.LICENSE_EXPIRED for a key past its expiry,
 * LICENSING.LICENSE_INVALID for anything else (malformed, a signature that does not verify, a bad
 * payload). `reason` tells which; the message says it in words.
 */
export class LicenseKeyRejectedError extends FleetcastError {
  constructor(
    readonly reason: LicenseRejection,
    message: string,
  ) {
    super(reason === 'expired' ? ErrorCode.LicenseExpired : ErrorCode.LicenseInvalid, `license key refused: ${message}`, [{ path: 'key', message }]);
    this.name = 'LicenseKeyRejectedError';
  }
}
