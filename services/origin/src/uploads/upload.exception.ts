import { ErrorCode, FleetcastError } from '@fleetcast/contracts';

export class UploadNotFoundError extends FleetcastError {
  constructor(uploadId: string) {
    super(ErrorCode.UploadNotFound, `no upload ${uploadId.slice(0, 80)} in this origin: never created, finished and expired, or abandoned and cleaned up`);
    this.name = 'UploadNotFoundError';
  }
}

/** A chunk that does not start where the upload stands; `offset` is where it does (also sent as Upload-Offset). */
export class UploadOffsetMismatchError extends FleetcastError {
  constructor(
    readonly offset: number,
    given: number,
  ) {
    super(ErrorCode.UploadOffsetMismatch, `the chunk starts at offset ${given} but the upload is at ${offset}: send from ${offset}`, [
      { path: 'headers.upload-offset', message: `must be ${offset}, the upload's current offset` },
    ]);
    this.name = 'UploadOffsetMismatchError';
  }
}

export class UploadBusyError extends FleetcastError {
  constructor(uploadId: string) {
    super(ErrorCode.UploadBusy, `upload ${uploadId} is receiving another chunk right now; HEAD it for its offset and try again when that request has ended`);
    this.name = 'UploadBusyError';
  }
}
