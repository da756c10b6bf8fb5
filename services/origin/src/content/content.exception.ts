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
 * No byte of a requested range lies within the content. The 416 is an answer about the request, not
 * a failure of the store; the caller sets the Content-Range header (RFC 9110 15.5.17) first.
 */
export class RangeNotSatisfiableError extends FleetcastError {
  constructor(contentId: string, size: number) {
    super(ErrorCode.RangeNotSatisfiable, `no byte of the range is within the ${size} bytes of ${contentId}`);
    this.name = 'RangeNotSatisfiableError';
  }
}
