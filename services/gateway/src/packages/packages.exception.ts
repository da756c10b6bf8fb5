import { ErrorBody, ErrorCode, FleetcastError } from '@fleetcast/contracts';

/**
 * The content origin refused an upload. The client gets the origin's own status and body: the
 * origin knows best why (422 for a hash or size that does not match, 401, 400 for a bad header).
 */
export class OriginRejectedError extends FleetcastError {
  /** Response headers of the origin's refusal the client needs too (`Upload-Offset` of a resumable upload). */
  readonly headers: Record<string, string> = {};

  constructor(
    readonly status: number,
    code: string,
    message: string,
    details?: ErrorBody['details'],
  ) {
    super(code, message, details);
    this.name = 'OriginRejectedError';
  }
}

/** The origin could not be reached, or broke off the upload. */
export class OriginUnavailableError extends FleetcastError {
  constructor(originUrl: string, reason: string) {
    super(ErrorCode.Unavailable, `content origin at ${originUrl} failed: ${reason}`);
    this.name = 'OriginUnavailableError';
  }
}

/** The origin accepted an upload but answered with something that is not a content descriptor. */
export class OriginReplyInvalidError extends FleetcastError {
  constructor(reason: string) {
    super(ErrorCode.Internal, `content origin answered with an unexpected body: ${reason}`);
    this.name = 'OriginReplyInvalidError';
  }
}

/** The client closed the connection before its upload was complete. */
export class UploadAbortedError extends FleetcastError {
  constructor() {
    super(ErrorCode.ContractInvalid, 'the upload was broken off before the whole body arrived');
    this.name = 'UploadAbortedError';
  }
}
