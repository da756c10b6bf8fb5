/**
 * How the CLI ends, as scripts see it. 1 for anything the server refused or that went wrong on the
 * way (a failed device, a refused token), 2 for a command line the CLI cannot act on, 3 when the
 * server cannot be reached at all (a script can then retry rather than give up).
 */
export const ExitCode = { Ok: 0, Failure: 1, Usage: 2, Unreachable: 3 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI reports in one line, with a stable code and the exit code it ends with. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A command line the CLI cannot act on: a missing option, a bad value, no server configured. */
export class UsageError extends CliError {
  constructor(message: string) {
    super('CLI.USAGE', message, ExitCode.Usage);
  }
}

/** A command the CLI knows but the server's API does not offer yet. */
export class NotSupportedError extends CliError {
  constructor(command: string, missing: string) {
    super('CLI.NOT_SUPPORTED', `${command} is not supported by this server yet (${missing})`, ExitCode.Usage);
  }
}

/** The server answered with an error: its code and message, as the API gave them. */
export class ApiError extends CliError {
  /** Where a resumable upload stands, when the server said (`Upload-Offset` of a refused chunk). */
  uploadOffset?: number;

  constructor(
    code: string,
    message: string,
    readonly status: number,
    readonly details?: unknown,
  ) {
    super(code, message, ExitCode.Failure);
  }
}

/** No answer: refused, unresolvable, timed out. */
export class UnreachableError extends CliError {
  constructor(message: string) {
    super('CLI.UNREACHABLE', message, ExitCode.Unreachable);
  }
}

/** A watched task ended with failed devices, or did not end in time. */
export class TaskFailedError extends CliError {
  constructor(message: string) {
    super('CLI.TASK_FAILED', message, ExitCode.Failure);
  }
}
