/**
 * Stable codes of packet decode failures. The socket adapter counts them by code ("dropped as
 * invalid" metrics) and never lets one escape the receive loop.
 */
export const PacketErrorCode = {
  /** Shorter than the fixed header and CRC trailer. */
  Truncated: 'PACKET.TRUNCATED',
  /** Longer than MAX_PACKET_BYTES: no sender of ours builds such a datagram. */
  TooLong: 'PACKET.TOO_LONG',
  /** Not "FC": foreign traffic on our group and port. */
  BadMagic: 'PACKET.BAD_MAGIC',
  /** A version this build does not speak (an older or newer agent on the same subnet). */
  UnsupportedVersion: 'PACKET.UNSUPPORTED_VERSION',
  /** The CRC32C trailer does not match: damaged in transit, or cut short. */
  BadChecksum: 'PACKET.BAD_CHECKSUM',
  /**
   * Authentication failed: the tag does not match under the session's key (a forgery, or a device
   * holding another task's key), or an unauthenticated (version 1) packet reached a session that
   * requires authentication. Counted per packet; the packet is dropped.
   */
  BadAuth: 'PACKET.BAD_AUTH',
  /** A type byte this version does not define. */
  UnknownType: 'PACKET.UNKNOWN_TYPE',
  /** A per-type decoder was handed another type of packet. */
  WrongType: 'PACKET.WRONG_TYPE',
  /** The body is not the length its type and counts require. */
  BadLength: 'PACKET.BAD_LENGTH',
  /** A field is out of its range (a zero count, a parity index past the code, a size past 2^53). */
  BadField: 'PACKET.BAD_FIELD',
  /**
   * An ANNOUNCE or CLAIM whose claim proof does not hold (no proof where the session requires one,
   * a ticket the control plane did not sign, for another task or sender, expired, or a signature
   * not made with the ticket's key): a device of the task pretending to be another, or to be one.
   */
  BadClaim: 'PACKET.BAD_CLAIM',
} as const;
export type PacketErrorCode = (typeof PacketErrorCode)[keyof typeof PacketErrorCode];

/**
 * Why bytes did not decode. Plain data, not an Error: a flood of garbage datagrams must not cost
 * a stack trace each.
 */
export interface PacketDecodeError {
  code: PacketErrorCode;
  message: string;
}

export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: PacketDecodeError };

/** A message that cannot be encoded (a field out of range): a bug in the caller, so it throws. */
export class PacketEncodeError extends Error {
  readonly code = 'PACKET.INVALID_MESSAGE';

  constructor(message: string) {
    super(message);
    this.name = 'PacketEncodeError';
  }
}

export function decodeFailure(code: PacketErrorCode, message: string): { ok: false; error: PacketDecodeError } {
  return { ok: false, error: { code, message } };
}
