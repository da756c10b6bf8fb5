import { ErrorCode, FleetcastError } from '@fleetcast/contracts';

/** Codes a seat can be refused with. */
export type SeatRefusalCode = typeof ErrorCode.NoLicense | typeof ErrorCode.LicenseExpired | typeof ErrorCode.NoSeatAvailable;

/**
 * A seat refused: LICENSING.NO_LICENSE, LICENSING.LICENSE_EXPIRED or LICENSING.NO_SEAT_AVAILABLE,
 * with a message that says what is bought, what is used and what to do about it.
 */
export class SeatRefusedError extends FleetcastError {
  constructor(
    override readonly code: SeatRefusalCode,
    message: string,
  ) {
    super(code, message);
    this.name = 'SeatRefusedError';
  }
}
