import { ErrorCode, FleetcastError } from '@fleetcast/contracts';

export class ContentNotFoundError extends FleetcastError {
  constructor(contentId: string) {
    super(ErrorCode.ContentNotFound, `no content ${contentId} in this origin`);
    this.name = 'ContentNotFoundError';
  }
}

export class HashMismatchError extends FleetcastError {
  constructor(declared: string, actual: string) {
    super(ErrorCode.HashMismatch, `declared SHA-256 ${declared} but the body hashes to ${actual}; nothing was stored`);
    this.name = 'HashMismatchError';
  }
}

export class SizeMismatchError extends FleetcastError {
  constructor(message: string) {
    super(ErrorCode.SizeMismatch, `${message}; nothing was stored`);
    this.name = 'SizeMismatchError';
  }
}

/** A request header that does not parse: a 400 that names the header. */
export class InvalidHeaderError extends FleetcastError {
  constructor(header: string, problem: string) {
    super(ErrorCode.ContractInvalid, `invalid header ${header}: ${problem}`, [{ path: `headers.${header}`, message: problem }]);
    this.name = 'InvalidHeaderError';
  }
}

/**
 * Code of a 416 body. It is an HTTP-level answer, not a failure of the store, so it has no place in
 * the shared error codes yet; move it there once a second service needs it.
 */
export const RANGE_NOT_SATISFIABLE_CODE = 'ORIGIN.RANGE_NOT_SATISFIABLE';
