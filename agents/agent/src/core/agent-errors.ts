import { FleetcastError } from '@fleetcast/contracts';

/**
 * Stable codes of the agent's own failures. They travel as `reason.code` in status reports
 * (so the summary can group failures) and as the `code` of thrown errors.
 * They belong next to the others in the contracts' `ErrorCode` once the tasks service reads them;
 * until then the agent is their only producer and spells them here, once.
 */
export const AgentErrorCode = {
  IllegalTransition: 'AGENT.ILLEGAL_TRANSITION',
  UnsupportedPlatform: 'AGENT.UNSUPPORTED_PLATFORM',
  IdentityUnreadable: 'AGENT.IDENTITY_UNREADABLE',
  StateUnreadable: 'AGENT.STATE_UNREADABLE',
  /** The control plane could not be reached for enrollment, or refused it. */
  EnrollmentFailed: 'AGENT.ENROLLMENT_FAILED',
  InvalidId: 'AGENT.INVALID_ID',
  DownloadExhausted: 'DOWNLOAD.EXHAUSTED',
  DownloadHashMismatch: 'DOWNLOAD.HASH_MISMATCH',
  DownloadCorrupt: 'DOWNLOAD.CORRUPT',
  DownloadTruncated: 'DOWNLOAD.TRUNCATED',
  DownloadNetwork: 'DOWNLOAD.NETWORK',
  /**
   * The origin cannot be reached from this device at all (refused, no route, name not resolved,
   * connection timed out): a network or firewall matter between the device's office and the origin,
   * reported as such, not as a transfer that broke off.
   */
  DownloadOriginUnreachable: 'DOWNLOAD.ORIGIN_UNREACHABLE',
  DownloadHttpStatus: 'DOWNLOAD.HTTP_STATUS',
  DownloadNotFound: 'DOWNLOAD.NOT_FOUND',
  /** The origin refused the download token (expired, or none could be had from the control plane). */
  DownloadUnauthorized: 'DOWNLOAD.UNAUTHORIZED',
  DownloadEtagMismatch: 'DOWNLOAD.ETAG_MISMATCH',
  DownloadSizeMismatch: 'DOWNLOAD.SIZE_MISMATCH',
  DownloadAborted: 'DOWNLOAD.ABORTED',
  ManifestRejected: 'DOWNLOAD.MANIFEST_REJECTED',
  CacheInvalidContentId: 'CACHE.INVALID_CONTENT_ID',
  CacheBlockRejected: 'CACHE.BLOCK_REJECTED',
  CacheIncomplete: 'CACHE.INCOMPLETE',
  CacheHashMismatch: 'CACHE.HASH_MISMATCH',
  CacheManifestInconsistent: 'CACHE.MANIFEST_INCONSISTENT',
  CacheNotCached: 'CACHE.NOT_CACHED',
  CacheNoSpace: 'CACHE.NO_SPACE',
  InstallSpawnFailed: 'INSTALL.SPAWN_FAILED',
  InstallTimeout: 'INSTALL.TIMEOUT',
  InstallExitCode: 'INSTALL.EXIT_CODE',
  InstallInterrupted: 'INSTALL.INTERRUPTED',
  /** A confidential package whose key the control plane did not give (not a target, or unreachable): nothing was decrypted or run. */
  InstallContentKeyUnavailable: 'INSTALL.CONTENT_KEY_UNAVAILABLE',
  /** A confidential package whose content does not open with its key (a block's tag fails): nothing was run. */
  InstallSealedContentInvalid: 'INSTALL.SEALED_CONTENT_INVALID',
  InvalidSubnet: 'SUBNET.INVALID',
} as const;
export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode];

/** Why a task failed, in the shape of a status report's `reason`. */
export interface FailureReason {
  code: string;
  message: string;
}

/** Limits of `reason` in the DeviceStatusV1 contract: a longer reason would fail validation at the service. */
export const REASON_CODE_MAX_CHARS = 100;
export const REASON_MESSAGE_MAX_CHARS = 2000;

/** Clips a reason to the contract's limits, so that a long OS error message never makes a report invalid. */
export function clipReason(reason: FailureReason): FailureReason {
  return {
    code: reason.code.slice(0, REASON_CODE_MAX_CHARS),
    message: reason.message.length > REASON_MESSAGE_MAX_CHARS ? reason.message.slice(0, REASON_MESSAGE_MAX_CHARS - 1) + '…' : reason.message,
  };
}

/** Thrown for an event that the current state does not accept; names both, as Temporal's SDK does. */
export class IllegalTransitionError extends FleetcastError {
  constructor(
    readonly taskId: string | null,
    readonly state: string,
    readonly event: string,
  ) {
    super(AgentErrorCode.IllegalTransition, `task ${taskId ?? '(none)'}: event "${event}" is not allowed in state "${state}"`);
    this.name = 'IllegalTransitionError';
  }
}

/** An address or prefix length that is not an IPv4/IPv6 subnet. */
export class InvalidSubnetError extends FleetcastError {
  constructor(message: string) {
    super(AgentErrorCode.InvalidSubnet, message);
    this.name = 'InvalidSubnetError';
  }
}

/** An ID that cannot be used as a device or task ID (and therefore not as a file name either). */
export class InvalidIdError extends FleetcastError {
  constructor(message: string) {
    super(AgentErrorCode.InvalidId, message);
    this.name = 'InvalidIdError';
  }
}
