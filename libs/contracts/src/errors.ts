import { z } from 'zod';

/**
 * Stable error codes that cross process boundaries (NATS replies, HTTP bodies, status reasons).
 * Each transport maps them to its own representation in exactly one place.
 */
export const ErrorCode = {
  ContractInvalid: 'CONTRACT.INVALID',
  ContractUnsupportedVersion: 'CONTRACT.UNSUPPORTED_VERSION',
  ContractUnknownSubject: 'CONTRACT.UNKNOWN_SUBJECT',
  /** A device-scoped message whose payload names another device than its subject (and so its publisher). */
  DeviceMismatch: 'CONTRACT.DEVICE_MISMATCH',
  Unauthorized: 'AUTH.UNAUTHORIZED',
  /**
   * A valid API token whose scope does not cover the route (a read-only token on a POST, an
   * operator token on an admin route); the message names the scope needed.
   */
  Forbidden: 'AUTH.FORBIDDEN',
  NotFound: 'COMMON.NOT_FOUND',
  Conflict: 'COMMON.CONFLICT',
  /** A body larger than the receiver accepts (HTTP 413). */
  PayloadTooLarge: 'COMMON.PAYLOAD_TOO_LARGE',
  Unavailable: 'COMMON.UNAVAILABLE',
  Internal: 'COMMON.INTERNAL',
  PackageNotFound: 'TASKS.PACKAGE_NOT_FOUND',
  PackageNotReady: 'TASKS.PACKAGE_NOT_READY',
  ContentMismatch: 'TASKS.CONTENT_MISMATCH',
  /** A package that a task not yet completed (scheduled or active) uses: it cannot be deleted until the task ends. */
  PackageInUse: 'TASKS.PACKAGE_IN_USE',
  ProfileNotFound: 'TASKS.PROFILE_NOT_FOUND',
  TaskNotFound: 'TASKS.TASK_NOT_FOUND',
  NoTargets: 'TASKS.NO_TARGETS',
  ManifestNotFound: 'TASKS.MANIFEST_NOT_FOUND',
  SigningKeyNotFound: 'TASKS.SIGNING_KEY_NOT_FOUND',
  /** Only a `retiring` key can be retired: the active key must first be replaced by a rotation. */
  SigningKeyNotRetiring: 'TASKS.SIGNING_KEY_NOT_RETIRING',
  /** Cancel of a task that is already over (`completed` or `cancelled`): nothing is left to stop. */
  TaskFinished: 'TASKS.TASK_FINISHED',
  /** Retry of a cancelled task: cancellation is final, create a new task instead. */
  TaskCancelled: 'TASKS.TASK_CANCELLED',
  /** Retry with no device to retry: none failed, or a device named in the request is not in `failed`. */
  NothingToRetry: 'TASKS.NOTHING_TO_RETRY',
  /** A content key asked for by a device that is not a target of a task not yet over with that package: it gets nothing to decrypt with. */
  NotATarget: 'TASKS.NOT_A_TARGET',
  /** A content key asked for content that is not confidential (it is not encrypted: there is no key). */
  NotConfidential: 'TASKS.NOT_CONFIDENTIAL',
  DeviceNotFound: 'INVENTORY.DEVICE_NOT_FOUND',
  /**
   * A device whose agent reports a version outside the range the control plane supports
   * (the inventory's SUPPORTED_AGENT_VERSIONS): it is kept out of distribution, and a task that
   * targets it records it as `failed` with this code instead of sending it an assignment.
   */
  AgentUnsupportedVersion: 'AGENT.UNSUPPORTED_VERSION',
  HashMismatch: 'ORIGIN.HASH_MISMATCH',
  SizeMismatch: 'ORIGIN.SIZE_MISMATCH',
  ContentNotFound: 'ORIGIN.CONTENT_NOT_FOUND',
  /** No byte of a requested range lies within the content (HTTP 416, RFC 9110 15.5.17). */
  RangeNotSatisfiable: 'ORIGIN.RANGE_NOT_SATISFIABLE',
  /** A download without a valid download token for that content (missing, forged, expired, or for other content). */
  DownloadUnauthorized: 'ORIGIN.DOWNLOAD_UNAUTHORIZED',
  /** No resumable upload with this ID: never created, finished, or expired and cleaned up. */
  UploadNotFound: 'ORIGIN.UPLOAD_NOT_FOUND',
  /** A chunk sent at another offset than the upload's current one; the answer carries the current offset. */
  UploadOffsetMismatch: 'ORIGIN.UPLOAD_OFFSET_MISMATCH',
  /** Another request is writing to this upload right now: one writer at a time. */
  UploadBusy: 'ORIGIN.UPLOAD_BUSY',
  /** A license key that is malformed, fails its signature (tampered, or signed by another key) or holds an invalid payload. */
  LicenseInvalid: 'LICENSING.LICENSE_INVALID',
  /** A license key past its expiry; or a seat asked for while the installed license has expired. */
  LicenseExpired: 'LICENSING.LICENSE_EXPIRED',
  /** A seat asked for while no license is installed. */
  NoLicense: 'LICENSING.NO_LICENSE',
  /** Every seat bought is in use and the overage policy (or its ended grace period) allows no more. */
  NoSeatAvailable: 'LICENSING.NO_SEAT_AVAILABLE',
  /** An enrollment token that is unknown, expired, used up or revoked (the message says which). */
  EnrollmentTokenInvalid: 'LICENSING.ENROLLMENT_TOKEN_INVALID',
  /** A device ID already enrolled with another key: retire it first. */
  DeviceAlreadyEnrolled: 'LICENSING.DEVICE_ALREADY_ENROLLED',
  /** No enrolled device has this ID. */
  DeviceNotEnrolled: 'LICENSING.DEVICE_NOT_ENROLLED',
  /** The licensing service holds no trust chain to issue NATS credentials with. */
  CredentialsUnavailable: 'LICENSING.CREDENTIALS_UNAVAILABLE',
  WebhookNotFound: 'WEBHOOKS.SUBSCRIPTION_NOT_FOUND',
  WebhookDeliveryNotFound: 'WEBHOOKS.DELIVERY_NOT_FOUND',
  /** A subscription URL that is not allowed: a scheme other than http(s), credentials in it, or an address the policy refuses. */
  WebhookUrlRefused: 'WEBHOOKS.URL_REFUSED',
  /** A topology document with problems; `details` lists every one with its JSON pointer. Nothing was stored. */
  TopologyInvalid: 'TOPOLOGY.INVALID',
  /** No topology has been uploaded yet: nothing to answer from. */
  NoTopology: 'TOPOLOGY.NO_TOPOLOGY',
  TopologyVersionNotFound: 'TOPOLOGY.VERSION_NOT_FOUND',
  /** An upload made against another version than the current one (its `baseVersion`): fetch, merge, upload again. */
  TopologyVersionConflict: 'TOPOLOGY.VERSION_CONFLICT',
  /** A device the topology service has seen no scan of, so it knows none of its addresses. */
  TopologyDeviceUnknown: 'TOPOLOGY.DEVICE_UNKNOWN',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Wire form of an error: a stable code, a human message, optional field-level details. */
export const errorBodySchema = z.object({
  code: z.string(),
  message: z.string(),
  /** Field-level details; `code` names the kind of problem where a contract has codes of its own (a topology's problems). */
  details: z.array(z.object({ path: z.string(), message: z.string(), code: z.string().optional() })).optional(),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** An error that knows its stable code; services throw it, transports map it. */
export class FleetcastError extends Error {
  constructor(
    readonly code: ErrorCode | string,
    message: string,
    readonly details?: ErrorBody['details'],
  ) {
    super(message);
    this.name = 'FleetcastError';
  }

  toBody(): ErrorBody {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

/** Turns a zod failure into field-level details ("targets.deviceIds.0: Required"). */
export function describeZodError(error: z.ZodError): NonNullable<ErrorBody['details']> {
  return error.issues.map((issue) => ({ path: issue.path.join('.') || '(root)', message: issue.message }));
}

/** Parses `value` or throws a FleetcastError(CONTRACT.INVALID) that names the offending fields. */
export function parseOrThrow<T extends z.ZodTypeAny>(schema: T, value: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = describeZodError(result.error);
  const summary = details.map((d) => `${d.path}: ${d.message}`).join('; ');
  throw new FleetcastError(ErrorCode.ContractInvalid, `invalid ${what}: ${summary}`, details);
}
