/**
 * Leveled logging for a node: lines to stderr and, when a log dir is set, to
 * `stdout.log` there. Access logs have their own buffered writer
 * (`buffered_line_writer.ts`).
 *
 * @module
 */

import type { Logger } from "../filters/filter.ts";
import { errorText } from "./error_text.ts";
import { joinPath } from "./paths.ts";

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const encoder = new TextEncoder();

/** Where log lines go: stderr and an optional file. */
export class LogSink {
  #file: LogFile | undefined;
  #min: number;

  constructor(options: { level?: LogLevel; file?: LogFile } = {}) {
    this.#min = RANK[options.level ?? "info"];
    this.#file = options.file;
  }

  /** Writes one line if `level` is enabled. */
  write(level: LogLevel, scope: string, message: string): void {
    if (RANK[level] < this.#min) return;
    const line = `${new Date().toISOString()}\t${level.toUpperCase()}\t${scope}\t${message}\n`;
    const bytes = encoder.encode(line);
    try {
      Deno.stderr.writeSync(bytes);
    } catch { /* stderr closed: keep going */ }
    try {
      this.#file?.writeSync(bytes);
    } catch { /* disk full or closed: logging must not break traffic */ }
  }

  /** A logger whose lines carry `scope`. */
  logger(scope: string): Logger {
    return {
      debug: (m) => this.write("debug", scope, m),
      info: (m) => this.write("info", scope, m),
      warn: (m) => this.write("warn", scope, m),
      error: (m) => this.write("error", scope, m),
    };
  }

  /** Closes the log file. */
  close(): void {
    try {
      this.#file?.close();
    } catch { /* already closed */ }
    this.#file = undefined;
  }
}

/** What the node's log writers append to: a file. */
export interface LogFile {
  writeSync(bytes: Uint8Array): number;
  close(): void;
}

/** How often a log file's path is checked for the file having been moved away. */
const PATH_CHECK_MS = 1_000;

/**
 * A log file that follows its path: once the file there has been renamed or
 * removed (logrotate's default, a new file created in its place or not), the
 * next write, a second later at most, goes to a file opened at the path. The
 * node wrote into the renamed file until it restarted, and `ctl logs` found
 * no file at the path.
 */
export class PathFollowingLogFile implements LogFile {
  #file: Deno.FsFile;
  readonly #path: string;
  readonly #now: () => number;
  #checkedAt: number;

  /** `now` in milliseconds, for tests. */
  constructor(path: string, file: Deno.FsFile, now: () => number = Date.now) {
    this.#path = path;
    this.#file = file;
    this.#now = now;
    this.#checkedAt = now();
  }

  /** Writes to the file at the path, reopening it when it is another than the one open. */
  writeSync(bytes: Uint8Array): number {
    const now = this.#now();
    if (now - this.#checkedAt >= PATH_CHECK_MS) {
      this.#checkedAt = now;
      if (this.#movedAway()) this.#reopen();
    }
    return this.#file.writeSync(bytes);
  }

  close(): void {
    this.#file.close();
  }

  #movedAway(): boolean {
    try {
      const atPath = Deno.statSync(this.#path);
      const open = this.#file.statSync();
      return atPath.ino !== open.ino || atPath.dev !== open.dev;
    } catch (e) {
      return e instanceof Deno.errors.NotFound;
    }
  }

  #reopen(): void {
    let reopened;
    try {
      reopened = Deno.openSync(this.#path, { append: true, create: true });
    } catch {
      return; // The dir gone or read-only: the old file takes the lines meanwhile.
    }
    this.#file.close();
    this.#file = reopened;
  }
}

/**
 * Opens the log file `name` in `logDir` for appending, following its path
 * (see {@linkcode PathFollowingLogFile}). Throws naming the file and
 * `--log-dir`, the option that placed it: the bare OS error named neither.
 */
export async function openLogFile(logDir: string, name: string): Promise<LogFile> {
  const path = joinPath(logDir, name);
  try {
    return new PathFollowingLogFile(path, await Deno.open(path, { append: true, create: true }));
  } catch (e) {
    throw new Error(`--log-dir: cannot open the log file ${path}: ${errorText(e)}`);
  }
}

/** A logger that drops everything (tests, tools). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
