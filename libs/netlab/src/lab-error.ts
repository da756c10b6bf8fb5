/** Stable codes for everything the lab can fail on; callers branch on these, never on messages. */
export type LabErrorCode =
  /** A command (ip, tc, nft, sysctl) exited non-zero, timed out or could not start. */
  | 'LAB.COMMAND_FAILED'
  /** The lab spec is malformed: names, subnets, counts or rates out of range. */
  | 'LAB.INVALID_SPEC'
  /** The spec asks for something this lab does not build yet (a WAN delay). */
  | 'LAB.UNSUPPORTED'
  /** A lab subnet overlaps an address already configured on this machine. */
  | 'LAB.ADDRESS_IN_USE'
  /** Namespaces, root, `tc` or `nft` are missing; the reason says which. */
  | 'LAB.UNAVAILABLE'
  /** `openLab` found no running lab of that name. */
  | 'LAB.NOT_FOUND'
  /** A call named a namespace or branch that is not part of this lab. */
  | 'LAB.UNKNOWN_TARGET';

export interface LabErrorDetails {
  /** The command line that failed, as argv (no shell is involved). */
  command?: readonly string[];
  /** What the command wrote to stderr, trimmed. */
  stderr?: string;
  exitCode?: number | null;
  cause?: unknown;
}

export class LabError extends Error {
  readonly command: readonly string[] | undefined;
  readonly stderr: string | undefined;
  readonly exitCode: number | null | undefined;

  constructor(
    readonly code: LabErrorCode,
    message: string,
    details: LabErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'LabError';
    this.command = details.command;
    this.stderr = details.stderr;
    this.exitCode = details.exitCode;
  }
}
