/**
 * Writing `ctl` output to stdout and stderr whatever the reader does:
 * one that goes away (`ctl object list | head -1`) gets no more output
 * while the command finishes its work, instead of a stack trace.
 *
 * @module
 */

import { CtlError } from "./errors.ts";

/** What a writer needs of a stream: `Deno.stdout` and `Deno.stderr` have it. */
export interface SyncWritable {
  writeSync(p: Uint8Array): number;
}

/**
 * A writer that puts all of each string on `stream`, however many writes
 * that takes. Once the reader has closed the pipe, further output is
 * dropped; any other failure throws {@linkcode CtlError} naming `name`,
 * unless `quiet` (for stderr, which has nowhere left to report it).
 */
export function writerTo(
  stream: SyncWritable,
  name: string,
  quiet = false,
): (s: string) => void {
  const encoder = new TextEncoder();
  let closed = false;
  return function writeAll(s) {
    if (closed) return;
    const bytes = encoder.encode(s);
    let written = 0;
    try {
      while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
    } catch (error) {
      if (error instanceof Deno.errors.BrokenPipe || quiet) {
        closed = true;
        return;
      }
      throw new CtlError(`cannot write to ${name}: ${(error as Error).message}`);
    }
  };
}
