/**
 * The two ways `ctl` fails: the command line was wrong (with a hint to read
 * the help), or the work failed. Both exit 1, as egctl does.
 *
 * @module
 */

/** A mistake in how `ctl` was invoked; reported with a `--help` hint, exit code 1. */
export class UsageError extends Error {
  /** Words of the deepest command that was recognised (e.g. `["object", "get"]`), for the hint. */
  readonly command: readonly string[];

  constructor(message: string, command: readonly string[] = []) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/** A failure reported as `Error: <message>` (plus optional detail lines), exit code 1. */
export class CtlError extends Error {
  /** Further lines printed after the error line, e.g. one per invalid document. */
  readonly details: readonly string[];

  constructor(message: string, details: readonly string[] = []) {
    super(message);
    this.name = "CtlError";
    this.details = details;
  }
}

/**
 * Why a file could not be read, for a message that names the file already:
 * without the runtime's `(os error 21): readfile '/path'`.
 */
export function fileErrorReason(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/ \(os error \d+\)/, "").replace(/: \w+ '[^']*'$/, "");
}
